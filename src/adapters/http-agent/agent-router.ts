import type { ClientRequest, Agent as HttpAgent } from 'node:http'
import { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import { checkFunction, checkNumber, isPlainObject, typeError } from '../../internal/validate.ts'
import { callOptionsTable, retryPolicies } from '../http/retry-policy.ts'
import { type AgentHost, AgentRequest, watcherOf } from './agent-request.ts'
import { closeAgent, EndpointAgentFactory, type EndpointAgentOptions } from './endpoint-agents.ts'
import { IdleSockets } from './idle-sockets.ts'

/** Options of a `BalancerAgent`: node:http / node:https `AgentOptions`, plus keel's. */
export interface BalancerAgentOptions extends EndpointAgentOptions {
  /**
   * How long a keep-alive socket may sit unused before keel closes it (shortened to a server's
   * `Keep-Alive: timeout=N` hint less 1 s), and how long a connection may take to open when the
   * request sets no `timeout` of its own. 0: neither limit. Unlike node:http's agent `timeout`,
   * it arms no socket timer for requests in flight: bound those with the client's own request
   * timeout or keel's `attemptTimeout` / `timeout`.
   * @default 5000 (Node's global agent's)
   */
  readonly timeout?: number
  /**
   * Routing key of a request, for `ring-hash` and `maglev` (e.g. from a header:
   * `(req) => req.getHeader('x-user-id') as string`).
   * @default undefined (no key)
   */
  readonly routingKey?: (request: ClientRequest) => string | Uint8Array | undefined
}

/**
 * What Node's global agents use (Node ≥ 19): keep-alive, the most recently used socket first (so
 * idle ones time out). A client without keel would use those agents. Their third default, a 5 s
 * `timeout`, keel applies itself (`DEFAULT_AGENT_TIMEOUT`).
 */
const GLOBAL_AGENT_DEFAULTS: EndpointAgentOptions = { keepAlive: true, scheduling: 'lifo' }

/** Node's global agents' `timeout`: a free socket idle this long is closed; also the connect limit. */
export const DEFAULT_AGENT_TIMEOUT = 5_000

/**
 * The agent options node:http gets: Node's global-agent defaults under the caller's, keel's own
 * options removed, and `timeout` too — keel applies it (`agentTimeout`) without node:http's socket
 * timer per request.
 */
export function agentOptions(options: BalancerAgentOptions): EndpointAgentOptions {
  if (!isPlainObject(options)) throw typeError('options', 'an object of node:http Agent options', options)
  const { routingKey: _routingKey, timeout: _timeout, ...rest } = options
  return { ...GLOBAL_AGENT_DEFAULTS, ...rest }
}

/** The agent's `timeout` in ms (0: none), validated. */
export function agentTimeout(options: BalancerAgentOptions): number {
  return checkNumber('timeout', options.timeout, { min: 0 }) ?? DEFAULT_AGENT_TIMEOUT
}

/**
 * The routing shared by `BalancerAgent` and `HttpsBalancerAgent`: one inner keep-alive agent per
 * endpoint (the balancer resource `'http.agent'`, closed when the endpoint finishes draining or
 * the balancer closes), and one call keel drives per request.
 */
export class AgentRouter {
  readonly #host: AgentHost
  readonly #agents = new Set<HttpAgent>()
  readonly #idle: IdleSockets

  constructor(balancer: Balancer<unknown>, options: BalancerAgentOptions, inner: EndpointAgentOptions) {
    if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
    const routingKey = checkFunction<NonNullable<BalancerAgentOptions['routingKey']>>('routingKey', options.routingKey)
    const timeout = agentTimeout(options)
    const port = adapterPort(balancer)
    const { clock, timers } = port
    // `timeout: 0` keeps idle sockets until the server closes them, as node:http does.
    this.#idle = new IdleSockets(clock, timers, timeout === 0 ? Number.POSITIVE_INFINITY : timeout, this.#agents)
    const factory = new EndpointAgentFactory(inner, {
      watcherOf,
      idle: this.#idle,
      connectTimeout: timeout,
      clock,
      timers,
    })
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
    this.#idle.stop()
    for (const agent of this.#agents) agent.destroy()
  }
}
