import { type ClientRequest, Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { Balancer } from '../../balancer.ts'
import { AgentRouter, agentOptions, type BalancerAgentOptions } from './agent-router.ts'

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor takes `any[]` (TypeScript's rule)
type AgentClass = new (...args: any[]) => HttpAgent

/** What `BalancerAgent` and `HttpsBalancerAgent` add to node:http's and node:https' Agent. */
interface Balancing {
  readonly balancer: Balancer<unknown>
  /** node:http calls this for every request given this agent: keel routes it. */
  addRequest(request: ClientRequest, options: Record<string, unknown>): void
  /** Destroys every socket of every endpoint's agent (node:http `Agent#destroy`). */
  destroy(): void
  /** `using agent = new BalancerAgent(…)`: the same as `destroy()`. */
  [Symbol.dispose](): void
}

/**
 * The one body of `BalancerAgent` and `HttpsBalancerAgent`, over node:http's or node:https' Agent:
 * clients check the agent's class and `protocol` against the URL's, so there are two.
 */
function balancing<Base extends AgentClass>(
  Base: Base,
): new (
  balancer: Balancer<unknown>,
  options?: BalancerAgentOptions,
) => InstanceType<Base> & Balancing {
  class Balanced extends Base implements Balancing {
    readonly balancer: Balancer<unknown>
    readonly #router: AgentRouter

    // biome-ignore lint/suspicious/noExplicitAny: the signature is the one `balancing` returns
    constructor(...args: any[]) {
      const [balancer, options = {}] = args as [Balancer<unknown>, BalancerAgentOptions?]
      const inner = agentOptions(options)
      super(inner)
      this.#router = new AgentRouter(balancer, options, inner)
      this.balancer = balancer
    }

    addRequest(request: ClientRequest, options: Record<string, unknown>): void {
      this.#router.route(request, options)
    }

    override destroy(): void {
      super.destroy()
      this.#router.destroy()
    }

    [Symbol.dispose](): void {
      this.destroy()
    }
  }
  return Balanced as never
}

/**
 * A node:http `Agent` that balances every request over a keel `Balancer`: pass it to anything
 * that takes an agent (`http.request`, got, node-fetch, superagent, the AWS SDK's
 * `NodeHttpHandler`). Use it for `http:` URLs; `HttpsBalancerAgent` serves `https:` URLs.
 *
 * The URL's host names the service and stays the `Host` header; each request goes to the
 * endpoint keel picks for it (not per connection), over that endpoint's own keep-alive agent, its
 * path prefix joined on. Endpoints are dialled by their own scheme: an `https:` endpoint gets TLS
 * with its `servername` (or the `Host` name) as SNI and certificate name. The attempt lasts until
 * the response ends, fails or is aborted, and is classified like keel's other HTTP adapters. A
 * request whose connection failed before it was handed the socket (refused, reset, timed out, TLS
 * failure) is re-sent to another endpoint without the caller seeing it; anything after that is the
 * client's own retry.
 */
export class BalancerAgent extends balancing(HttpAgent) {}

/**
 * `BalancerAgent` for `https:` URLs: a node:https `Agent`, so clients that check the agent's
 * protocol accept it. Which endpoints get TLS follows their own scheme, as with `BalancerAgent`.
 */
export class HttpsBalancerAgent extends balancing(HttpsAgent) {}
