import type { ClientRequest, Agent as HttpAgent } from 'node:http'
import { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import { checkFunction, isPlainObject, typeError } from '../../internal/validate.ts'
import { callOptionsTable, retryPolicies } from '../http/retry-policy.ts'
import { type AgentHost, AgentRequest, watcherOf } from './agent-request.ts'
import { closeAgent, EndpointAgentFactory, type EndpointAgentOptions } from './endpoint-agents.ts'

/** Options of a `BalancerAgent`: node:http / node:https `AgentOptions`, plus keel's. */
export interface BalancerAgentOptions extends EndpointAgentOptions {
  /**
   * Routing key of a request, for `ring-hash` and `maglev` (e.g. from a header:
   * `(req) => req.getHeader('x-user-id') as string`).
   * @default undefined (no key)
   */
  readonly routingKey?: (request: ClientRequest) => string | Uint8Array | undefined
}

/**
 * What Node's global agents use (Node ≥ 19): keep-alive, the most recently used socket first (so
 * idle ones time out), a 5 s idle socket timeout. A client without keel would use those agents.
 */
const GLOBAL_AGENT_DEFAULTS: EndpointAgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 }

/** The agent options with Node's global-agent defaults under them, keel's own options removed. */
export function agentOptions(options: BalancerAgentOptions): EndpointAgentOptions {
  if (!isPlainObject(options)) throw typeError('options', 'an object of node:http Agent options', options)
  const { routingKey: _routingKey, ...rest } = options
  return { ...GLOBAL_AGENT_DEFAULTS, ...rest }
}

/**
 * The routing shared by `BalancerAgent` and `HttpsBalancerAgent`: one inner keep-alive agent per
 * endpoint (the balancer resource `'http.agent'`, closed when the endpoint finishes draining or
 * the balancer closes), and one call keel drives per request.
 */
export class AgentRouter {
  readonly #host: AgentHost
  readonly #agents = new Set<HttpAgent>()

  constructor(balancer: Balancer<unknown>, options: BalancerAgentOptions, inner: EndpointAgentOptions) {
    if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
    const routingKey = checkFunction<NonNullable<BalancerAgentOptions['routingKey']>>('routingKey', options.routingKey)
    const port = adapterPort(balancer)
    const factory = new EndpointAgentFactory(inner, watcherOf)
    const agents = balancer.resource(port.uniqueResourceName('http.agent'), {
      create: (endpoint) => {
        const agent = factory.create(endpoint)
        this.#agents.add(agent)
        return agent
      },
      close: (agent) => {
        this.#agents.delete(agent)
        closeAgent(agent)
      },
    })
    const table = callOptionsTable(retryPolicies(port.settings.retry))
    // Always the once-only options: node:http cannot write a request twice, so keel re-sends
    // only what provably never left, and never hedges.
    const callOptions = [table[2]!, table[3]!]
    this.#host = {
      port,
      agents,
      callOptions,
      resolvedCalls: callOptions.map((options) => port.resolveCall(options)),
      routingKey,
    }
  }

  route(request: ClientRequest, options: Record<string, unknown>): void {
    new AgentRequest(this.#host, request, options).start()
  }

  /** Destroys every socket of every endpoint agent, as node:http's `Agent#destroy` does. */
  destroy(): void {
    for (const agent of this.#agents) agent.destroy()
  }
}
