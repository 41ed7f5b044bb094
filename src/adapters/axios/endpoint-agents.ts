import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https'
import type { Balancer } from '../../balancer.ts'
import type { AdapterPort } from '../../core/ports.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { httpOrigin } from '../http/target.ts'
import { IdleSweep } from './idle-sweep.ts'

/** Options of the per-endpoint agents: node:https `AgentOptions` (TLS options included). */
export type AxiosAgentOptions = HttpsAgentOptions

/**
 * What Node's global agents use (Node ≥ 19): keep-alive, the most recently used socket first (so
 * idle ones time out), and a 5 s idle socket timeout. Without keel, axios would use those agents.
 */
const GLOBAL_AGENT_DEFAULTS: HttpsAgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 }

/**
 * One node:http or node:https Agent per endpoint (the balancer resource `'axios.agent'`): keep-alive
 * sockets stay with their endpoint and are closed when it finishes draining or the balancer
 * closes, and an endpoint's `servername` is its TLS SNI and certificate name.
 */
export class EndpointAgents {
  readonly #handle: ResourceHandle<HttpAgent>

  /** @param idleTimeout the adapter's `idleTimeout`, kept on the agents' busy sockets (0: none) */
  constructor(
    balancer: Balancer<unknown>,
    port: AdapterPort,
    options: AxiosAgentOptions | undefined,
    idleTimeout: number,
  ) {
    const merged = { ...GLOBAL_AGENT_DEFAULTS, ...options }
    const sweep = idleTimeout > 0 ? new IdleSweep(port, idleTimeout, merged.timeout) : undefined
    this.#handle = balancer.resource(port.uniqueResourceName('axios.agent'), {
      create: (endpoint) => {
        const agent = createAgent(endpoint, merged)
        sweep?.add(agent)
        return agent
      },
      close: (agent) => {
        sweep?.remove(agent)
        closeAgent(agent)
      },
    })
  }

  /** The endpoint's agent, created on first use. */
  get(endpoint: EndpointInfo): HttpAgent {
    return this.#handle.get(endpoint)
  }
}

function createAgent(endpoint: EndpointInfo, options: HttpsAgentOptions): HttpAgent {
  if (!httpOrigin(endpoint).startsWith('https:')) return new HttpAgent(options)
  const servername = endpoint.servername
  return new HttpsAgent(servername === undefined ? options : { ...options, servername })
}

/**
 * Closes an agent without cutting requests short (a `maxConnectionAge` renewal closes an agent
 * whose sockets may be busy): idle sockets now, busy ones when their response ends — a freed
 * socket is kept only while the agent keeps alive (node:http `Agent` 'free' handler).
 */
function closeAgent(agent: HttpAgent): void {
  ;(agent as unknown as { keepAlive: boolean }).keepAlive = false
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}
