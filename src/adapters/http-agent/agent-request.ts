import type { ClientRequest, Agent as HttpAgent, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { AdapterCall, AdapterPort, AttemptCanceller, AttemptControl, ResolvedCall } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import { KeelError } from '../../model/errors.ts'
import type { CallOptions } from '../../options/options.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { HandedOver, type ResponseHead } from '../http/handed-over.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { lastAttemptError } from '../http/last-error.ts'
import type { ConnectWatcher, WatcherOf } from './endpoint-agents.ts'

/** What every request of one `BalancerAgent` shares. */
export interface AgentHost {
  readonly port: AdapterPort
  readonly agents: ResourceHandle<HttpAgent>
  /** Call options by `idempotent ? 1 : 0`: retried only after `not-sent`, never hedged… */
  readonly callOptions: readonly CallOptions[]
  /** … and resolved once (`AdapterPort.resolveCall`). */
  readonly resolvedCalls: readonly ResolvedCall[]
  readonly routingKey: ((request: ClientRequest) => string | Uint8Array | undefined) | undefined
}

/** A request whose endpoints have different path prefixes, re-sent after its head was written. */
export class PathPrefixError extends KeelError {
  constructor(path: string, wanted: string) {
    super(
      'KEEL_HTTP_PATH_PREFIX',
      `BalancerAgent: the request head was already written for ${path}; re-sending it to ${wanted} needs endpoints with one path prefix`,
    )
  }
}

/** Ends an attempt whose request the caller destroyed: keel's verdict is `cancelled`. */
class RequestDestroyed extends Error {
  readonly code = 'ABORT_ERR'
  constructor() {
    super('The caller destroyed the request')
    this.name = 'AbortError'
  }
}

const RUN = Symbol('keel.agentRequest')

/** A request a `BalancerAgent` routes: its run under a symbol key (cheaper than a WeakMap per request). */
type Routed = ClientRequest & {
  [RUN]?: AgentRequest
  res?: IncomingMessage | null
  upgradeOrConnect?: boolean
  _header?: string | null
}

/** The run routing `request`, for the endpoint agents' connect hand-over. */
export const watcherOf: WatcherOf = (request) => (request as Routed)[RUN]

/** The headers of a response that has none to read (an upgrade's). */
const NO_HEADERS = { get: (_name: string): unknown => undefined }

/** What `HandedOver` copies its fields from: one object for every response, refilled each time. */
const head: { -readonly [K in keyof ResponseHead]: ResponseHead[K] } = {
  status: 0,
  statusText: '',
  headers: NO_HEADERS,
  url: '',
}

/**
 * What keel classifies a response by: its status and headers, no body (the caller reads it). It
 * is its own `headers`, read only when keel's classifier asks (`Retry-After` of a 429 or 503):
 * node:http builds `res.headers` from the raw headers on first access, work a client that never
 * reads them does not pay — and one object per response instead of two.
 */
class IncomingHead extends HandedOver {
  readonly #res: IncomingMessage

  constructor(res: IncomingMessage) {
    head.status = res.statusCode ?? 0
    head.statusText = res.statusMessage ?? ''
    super(head)
    this.#res = res
    ;(this as { headers: ResponseHead['headers'] }).headers = this
  }

  /** A response header by its lower-case name, as node:http's `res.headers` has it. */
  get(name: string): unknown {
    return this.#res.headers[name]
  }

  /** What a user's `classify` that logs the value prints (it is its own `headers`: no cycle). */
  toJSON(): { status: number; statusText: string; url: string } {
    return { status: this.status, statusText: this.statusText, url: this.url }
  }
}

/** Upgrades (`101`, WebSocket) end their attempt as a success; one value serves them all. */
const UPGRADED = new HandedOver({ status: 101, statusText: '', headers: NO_HEADERS, url: '' })

/**
 * One `ClientRequest` through a `BalancerAgent`: a call keel drives (`AdapterPort.drive`) whose
 * attempts each hand the request to the picked endpoint's agent. A new connection reaches the
 * request only once it is established, so a refused, reset or timed-out connect proves nothing was
 * written and keel sends the request to another endpoint (verdict `not-sent`). From the moment the
 * request has a socket, every outcome is the caller's: keel classifies it (status, error, abort)
 * but never re-sends, since node:http cannot write a request twice — the client's own retry does
 * that.
 *
 * What it costs per request is what a hand-rolled round-robin over agents does not pay, so it is
 * the call itself (no promise, async frame or closure of keel's around the exchange: attempts
 * report through their `AttemptControl`) and holds one closure, keel's cancel callback. Its
 * listeners are functions shared by every request, finding the run under a symbol key on the
 * request, and the attempt's end is read off the request's own `close`.
 */
export class AgentRequest implements ConnectWatcher, AdapterCall, AttemptCanceller {
  readonly request: Routed
  readonly #host: AgentHost
  readonly #options: Record<string, unknown>
  /** The request's own TLS name option, for endpoints without a `servername`. */
  readonly #servername: unknown
  /** The path the caller asked for, before any endpoint prefix. */
  readonly #path: string
  /** The control of the attempt in progress, until it reported its outcome. */
  #control: AttemptControl | undefined
  #agent: HttpAgent | undefined
  /** Destroys the connection being opened for the current attempt. */
  #abandon: (() => void) | undefined
  /** The request already got its error and `close` (from keel or node:http). */
  #delivered = false

  constructor(host: AgentHost, request: ClientRequest, options: Record<string, unknown>) {
    this.#host = host
    this.request = request
    this.#options = options
    this.#servername = options.servername
    this.#path = request.path
  }

  start(): void {
    const req = this.request
    req[RUN] = this
    // A caller that listens already (`http.get(url, options, callback)`) reads the response: ours
    // is needed only to keep node:http's dump of a response nobody listens to, which a listener of
    // ours would otherwise stop. First among the listeners, so they see whether the caller listens
    // (a `once` listener is removed before it runs).
    if (req.listenerCount('response') === 0) req.on('response', AgentRequest.#onResponse)
    req.prependListener('error', AgentRequest.#onError)
    req.on('close', AgentRequest.#onClose)
    const host = this.#host
    // Only a `not-sent` attempt is ever re-sent, so this changes no decision; it keeps the call's
    // record honest without copying the headers of every request.
    const idempotent = isIdempotentRequest(req.method, undefined, undefined) || req.hasHeader('idempotency-key')
    const index = idempotent ? 1 : 0
    let options = host.resolvedCalls[index]!
    const key = host.routingKey?.(req)
    if (key !== undefined) {
      // A routing key is per request: validated and merged like `balancer.call`'s options.
      try {
        options = host.port.resolveCall({ ...host.callOptions[index]!, key })
      } catch (error) {
        // Reported after `addRequest` returned, as `balancer.call`'s rejection was.
        queueMicrotask(() => this.rejected(error))
        return
      }
    }
    host.port.drive(this, options)
  }

  /** One attempt: the request handed to the picked endpoint's agent (`AdapterCall.attempt`). */
  attempt(endpoint: Endpoint<unknown>, attempt: Attempt): void {
    // keel tells this run when it gives up on the attempt: cheaper than reading `attempt.signal`.
    const control = this.#host.port.control(attempt)!
    this.#control = control
    const req = this.request
    if (req.destroyed) {
      this.#fail(new RequestDestroyed())
      return
    }
    if (control.cancelled) {
      this.attemptCancelled(control.cancelReason)
      return
    }
    control.canceller = this
    let agent: HttpAgent
    try {
      this.#routePath(endpoint)
      agent = this.#host.agents.get(endpoint)
    } catch (error) {
      this.#fail(error)
      return
    }
    this.#agent = agent
    // node:http made these options for this request alone and copies them on: rewritten in place.
    const options = this.#options
    options.host = endpoint.host
    options.hostname = endpoint.host
    options.port = endpoint.port
    // node:http keeps these options in dictionary mode: adding a second new key grows (copies) the
    // dictionary, ≈ 0.8 kB a request, so a key the request does not have is left alone.
    if (options.socketPath !== undefined) options.socketPath = undefined
    // A plain-TCP endpoint needs no TLS name: an empty one spares node:http working it out from
    // the Host header on every request (an IP test with a regular expression).
    options.servername =
      endpoint.servername ??
      this.#servername ??
      ((agent as { protocol?: string }).protocol === 'https:' ? undefined : '')
    // node:http's Agent#addRequest: reuses a free socket, opens one, or queues the request.
    ;(agent as unknown as { addRequest(r: ClientRequest, o: unknown): void }).addRequest(req, options)
  }

  /** The call resolved: the caller already has the response (or the upgrade). */
  resolved(_value: unknown): void {}

  /** The call failed: the caller hears the last attempt's error, unless it heard one already. */
  rejected(error: unknown): void {
    this.#stopWaiting()
    this.#deliver(lastAttemptError(error) as Error)
  }

  connecting(_socket: Socket, abandon: () => void): void {
    this.#abandon = abandon
    // node:http's `destroy()` cuts only a socket the request has: while its connection is being
    // opened, keel must drop that connection and end the request itself.
    const req = this.request
    req.destroy = (error?: Error) => {
      this.#destroyedWhileConnecting(error)
      return req
    }
  }

  connected(): void {
    this.#connectDone()
  }

  connectFailed(_error: Error): boolean {
    this.#connectDone()
    if (this.request.destroyed || this.#control === undefined) {
      // The caller gave up meanwhile: node:http reports it as it would without keel.
      this.#delivered = true
      this.#fail(new RequestDestroyed())
      return false
    }
    return true
  }

  resend(error: Error): void {
    // Nothing of the request was written: keel may send it elsewhere, whatever the error's code.
    this.#control?.knownVerdict('not-sent')
    this.#fail(error)
  }

  /** Joins the endpoint's path prefix onto the request path while the head is still unwritten. */
  #routePath(endpoint: Endpoint<unknown>): void {
    const path = this.#path
    const wanted = endpoint.path === '' || path.charCodeAt(0) !== 47 /* / */ ? path : endpoint.path + path
    const req = this.request
    if (req.path === wanted) return
    if (req._header) throw new PathPrefixError(req.path, wanted)
    req.path = wanted
  }

  // The listeners: one function each for every request, called with the request as `this`.

  static readonly #onResponse = function (this: Routed, res: IncomingMessage): void {
    // Without a listener of its own, node:http would dump the body: ours must not change that.
    if (this.listenerCount('response') === 1) res.resume()
  }

  static readonly #onError = function (this: Routed, error: Error): void {
    this[RUN]!.#fail(error)
    // With no listener of the caller's, node:http would throw: ours must not swallow it.
    if (this.listenerCount('error') === 1) throw error
  }

  /**
   * The request is over: its response ended (keep-alive: once its body was read or dumped), its
   * socket closed, it failed, or it upgraded. The attempt ends with it.
   */
  static readonly #onClose = function (this: Routed): void {
    const run = this[RUN]!
    run.#delivered = true
    const res = this.res
    if (this.upgradeOrConnect === true) run.#succeed(UPGRADED)
    else if (res == null) run.#fail(new RequestDestroyed())
    else if (res.complete) run.#succeed(new IncomingHead(res))
    // `req.destroy()` dumps the response before it cuts the socket: the caller gave up on it.
    else if ((res as { _dumped?: boolean })._dumped === true) run.#fail(new RequestDestroyed())
    else run.#fail(res.errored ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
  }

  /** keel gave up on the attempt (deadline, attempt timeout, drain, close): stop the request. */
  attemptCancelled(reason: unknown): void {
    this.#stopWaiting()
    this.#fail(reason)
    this.#deliver(reason as Error)
  }

  /** No connection is being opened for the request any more. */
  #connectDone(): void {
    if (this.#abandon === undefined) return
    this.#abandon = undefined
    // The own `destroy` set by `connecting`: node:http's is the prototype's.
    delete (this.request as { destroy?: unknown }).destroy
  }

  /** The caller destroyed the request while its connection was being opened. */
  #destroyedWhileConnecting(error: Error | undefined): void {
    const abandon = this.#abandon
    this.#connectDone()
    abandon?.()
    const req = this.request
    req.destroy(error)
    this.#delivered = true
    this.#fail(new RequestDestroyed())
    // What node:http does for a request destroyed before it had a socket: `error` (the caller's,
    // or "socket hang up") and `close`.
    ;(req.onSocket as (socket: Socket | null) => void).call(req, null)
  }

  /** Takes the request out of its endpoint agent's queue and drops a connection being opened. */
  #stopWaiting(): void {
    const abandon = this.#abandon
    this.#connectDone()
    abandon?.()
    const requests = this.#agent?.requests
    if (requests === undefined || this.request.socket != null) return
    for (const queue of Object.values(requests)) {
      const index = queue?.indexOf(this.request as never) ?? -1
      if (index !== -1) queue!.splice(index, 1)
    }
  }

  #deliver(error: Error): void {
    if (this.#delivered) return
    this.#delivered = true
    const req = this.request
    // With a socket, node:http reports the error; without one, this is what its agent does. A
    // request the caller destroyed ends with the caller's own error (or node:http's "socket hang up").
    const onSocket = req.onSocket as (socket: Socket | null, error?: Error) => void
    if (req.socket != null) req.destroy(error)
    else if (req.destroyed) onSocket.call(req, null)
    else onSocket.call(req, null, error)
  }

  #succeed(value: HandedOver): void {
    const control = this.#ended()
    if (control !== undefined) control.succeed(value)
  }

  #fail(error: unknown): void {
    const control = this.#ended()
    if (control !== undefined) control.fail(error)
  }

  /**
   * Ends the attempt in progress, if any, and returns its control for the report, made last: keel
   * may start the next attempt from it.
   */
  #ended(): AttemptControl | undefined {
    const control = this.#control
    if (control === undefined) return undefined
    this.#control = undefined
    control.canceller = undefined
    // Once the request had a socket it may have been written: whatever happened is the caller's
    // to retry, never keel's.
    if (this.request.socket != null) control.handOver()
    return control
  }
}
