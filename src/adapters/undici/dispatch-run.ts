import type { IncomingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { Balancer } from '../../balancer.ts'
import type { AdapterCall, AdapterPort, OutcomeClassify, ResolvedCall } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { isOnceBody } from '../http/body-kind.ts'
import { withDefaultHeader } from '../http/headers.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { mayRetryResponse, type RetryPolicies } from '../http/retry-policy.ts'
import { hostHeader } from '../http/target.ts'
import { heldWhole } from '../http/whole-body.ts'
import { AbortedAttempt, type RawHeaders } from './aborted-attempt.ts'
import { AttemptHandler, type HandlerRun, type Upgraded } from './attempt-handler.ts'
import { DispatchedResponse } from './dispatched-response.ts'

/** What a dispatch needs from its `BalancerDispatcher`. */
export interface DispatchHost {
  readonly balancer: Balancer<unknown>
  readonly port: AdapterPort
  readonly classifier: OutcomeClassify
  readonly pools: ResourceHandle<Dispatcher>
  readonly policies: RetryPolicies
  /** Call options by `(once ? 2 : 0) + (idempotent ? 1 : 0)`, built once per dispatcher… */
  readonly callOptions: readonly CallOptions[]
  /** … and resolved once (`AdapterPort.resolveCall`). */
  readonly resolvedCalls: readonly ResolvedCall[]
  runEnded(): void
}

/** Dispatch options with keel's per-call routing key. */
export interface BalancedDispatchOptions extends Dispatcher.DispatchOptions {
  /** Routes the request by this key with a hash picker (`ring-hash`, `maglev`). @default undefined */
  readonly key?: string | Uint8Array
}

type Headers = Exclude<Dispatcher.DispatchOptions['headers'], undefined>
type Body = Exclude<Dispatcher.DispatchOptions['body'], undefined>

/** What a finished dispatch holds instead of the caller's handler: every callback is optional. */
const RELEASED: Dispatcher.DispatchHandler = Object.freeze({})

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}

/**
 * One `dispatch(opts, handler)` on a `BalancerDispatcher`: a `balancer.call` whose attempts each
 * dispatch to the picked endpoint's Pool. The caller's handler gets exactly one response (or one
 * error): the first that keel will not retry, forwarded as it streams, or a held-back one replayed
 * once keel stops retrying. Retries happen only before any response data reached the handler.
 */
export class DispatchRun implements HandlerRun, AdapterCall, Dispatcher.DispatchController {
  readonly host: DispatchHost
  readonly opts: BalancedDispatchOptions
  /** The caller's handler; `RELEASED` once it got its last callback. */
  handler: Dispatcher.DispatchHandler
  readonly idempotent: boolean
  /** The body can be read once: retried only after `not-sent`, before a byte was read. */
  readonly once: boolean
  /** A byte of a once-only body was read. */
  touched = false
  /** The attempt whose response the caller's handler receives. */
  committed: AttemptHandler | undefined = undefined
  /** The latest attempt started. */
  current: AttemptHandler | undefined = undefined
  /** The caller's handler got its last callback. */
  done = false
  aborted = false
  abortReason: Error | undefined = undefined
  #abortError: AbortedAttempt | undefined = undefined

  constructor(host: DispatchHost, opts: BalancedDispatchOptions, handler: Dispatcher.DispatchHandler) {
    this.host = host
    this.opts = opts
    this.handler = handler
    this.once = isOnceBody(opts.body)
    this.idempotent = isIdempotentRequest(String(opts.method), opts.idempotent, opts.headers)
  }

  start(): void {
    try {
      this.handler.onRequestStart?.(this.controller, null)
    } catch (error) {
      this.fail(error)
    }
    if (this.done) {
      this.host.runEnded()
      return
    }
    const key = this.opts.key
    const index = (this.once ? 2 : 0) + (this.idempotent ? 1 : 0)
    let options = this.host.resolvedCalls[index]!
    if (key !== undefined) {
      // A routing key is per request: validated and merged like `balancer.call`'s options.
      try {
        options = this.host.port.resolveCall({ ...this.host.callOptions[index]!, key })
      } catch (error) {
        // Reported after `dispatch` returned, as `balancer.call`'s rejection was.
        queueMicrotask(() => this.#failed(error))
        return
      }
    }
    // A driven call: keel adds no promise or closure per request around the exchange.
    this.host.port.drive(this, options)
  }

  /** One attempt: a dispatch to the picked endpoint's Pool (`AdapterCall.attempt`). */
  attempt(endpoint: Endpoint<unknown>, attempt: Attempt): void {
    new AttemptHandler(this, attempt).start(endpoint)
  }

  /** The call resolved: a held-back response keel stopped retrying on goes to the caller now. */
  resolved(value: unknown): void {
    this.#settled(value as DispatchedResponse | Upgraded)
  }

  /** The call failed: the caller's handler hears the last attempt's error. */
  rejected(error: unknown): void {
    this.#failed(error)
  }

  /**
   * The dispatch options of one attempt: the endpoint's path prefix, its `Host`, a fresh view of a
   * once-only body. The origin stays the caller's: an undici `Pool` sends to its own origin
   * whatever the options say, as `BalancedPool` relies on. With nothing to change (no prefix, no
   * servername, a body that can be re-sent) the caller's options go to the Pool as they are: one
   * object fewer per attempt, and undici sees the shape it sees from `BalancedPool`.
   */
  attemptOptions(endpoint: Endpoint<unknown>): Dispatcher.DispatchOptions {
    const opts = this.opts
    const host = hostHeader(endpoint)
    const path = opts.path
    const prefixed = endpoint.path !== '' && path.charCodeAt(0) === 47 /* / */
    if (!prefixed && host === undefined && !this.once) return opts
    return {
      ...opts,
      path: prefixed ? endpoint.path + path : path,
      headers: (host === undefined ? opts.headers : withDefaultHeader(opts.headers, 'host', host)) as Headers,
      body: (this.once ? this.#onceBody() : opts.body) as Body,
    }
  }

  /**
   * Classifies a response as its headers arrive: whether keel could retry after it (then it is
   * held back until keel decides), and whether it is a failure (then, once handed over, keel
   * must not retry after it).
   */
  shouldHold(attempt: AttemptHandler, response: DispatchedResponse): boolean {
    const attemptNumber = attempt.control.number
    // Classified once: keel takes this result for the attempt (`AttemptControl.classified`).
    const result = this.host.classifier.value(response)
    attempt.control.classified(result)
    response.failure = (typeof result === 'string' ? result : result.verdict) !== 'success'
    if (this.once || this.aborted || attemptNumber > this.host.policies.retries) return false
    if (response.failure) return mayRetryResponse(result, this.idempotent)
    // A small answer to an idempotent request is held until its body ends (`whole-body.ts`): a
    // reset or stall mid-body is then this attempt's failure, retried, not the caller's error.
    return this.idempotent && heldWhole(response.headers['content-length'])
  }

  /** Makes `attempt` the one the caller hears from; false when another already is. */
  claim(attempt: AttemptHandler): boolean {
    if (this.done || (this.committed !== undefined && this.committed !== attempt)) return false
    this.committed = attempt
    return true
  }

  /** Hands a response to the caller's handler: headers, any held body, then live data. */
  handOver(attempt: AttemptHandler, response: DispatchedResponse): void {
    this.claim(attempt)
    // The caller hears from this attempt: keel never retries it, whatever its body ends with.
    attempt.control.handOver()
    const { controller, handler } = this
    controller.rawHeaders = response.rawHeaders as RawHeaders
    if (controller.paused) attempt.controller?.pause()
    const { first, more } = response
    response.first = response.more = undefined
    // A throw from the caller's handler propagates to undici, which aborts this request with it.
    handler.onResponseStart?.(controller, response.statusCode, response.headers, response.statusText)
    if (first !== undefined) this.#forwardHeld(first, more)
  }

  /** The held body, in order, until the caller's handler ends the exchange. */
  #forwardHeld(first: Buffer, more: readonly Buffer[] | undefined): void {
    const { controller, handler } = this
    if (this.done) return
    handler.onResponseData?.(controller, first)
    if (more === undefined) return
    for (const chunk of more) {
      if (this.done) return
      handler.onResponseData?.(controller, chunk)
    }
  }

  forwardData(attempt: AttemptHandler, chunk: Buffer): void {
    if (this.committed === attempt && !this.done) this.handler.onResponseData?.(this.controller, chunk)
  }

  informational(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage: string | undefined,
  ): void {
    if (this.committed !== undefined || this.done) return
    this.controller.rawHeaders = (controller.rawHeaders ?? null) as RawHeaders
    this.handler.onResponseStart?.(this.controller, statusCode, headers, statusMessage)
  }

  upgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.done = true
    this.controller.rawHeaders = (controller.rawHeaders ?? null) as RawHeaders
    try {
      this.handler.onRequestUpgrade?.(this.controller, statusCode, headers, socket)
    } finally {
      this.#release()
    }
  }

  // The controller the caller's handler sees for the whole dispatch, whichever attempt runs, is
  // the dispatch itself (one object fewer per request): `abort` ends the call (every attempt, any
  // retry); `pause`/`resume` apply to the attempt whose response the handler receives.

  get controller(): this {
    return this
  }

  rawHeaders: RawHeaders = null
  rawTrailers: RawHeaders = null
  paused = false

  get reason(): Error | null {
    return this.abortReason ?? null
  }

  pause(): void {
    this.paused = true
    this.committed?.controller?.pause()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.committed?.controller?.resume()
  }

  /** The caller aborted (through the controller): stop every attempt and report at once. */
  abort(reason: Error | undefined): void {
    if (this.done || this.aborted) return
    this.aborted = true
    this.abortReason = reason ?? new AbortedAttempt('Request aborted', undefined)
    const error = this.abortError()
    this.current?.abort(error)
    if (this.committed !== this.current) this.committed?.abort(error)
    this.fail(this.abortReason)
  }

  abortError(): AbortedAttempt {
    this.#abortError ??= new AbortedAttempt('Request aborted by the caller', this.abortReason)
    return this.#abortError
  }

  lostError(): AbortedAttempt {
    return new AbortedAttempt('Another attempt answered first', undefined)
  }

  fail(error: unknown): void {
    if (this.done) return
    this.done = true
    try {
      this.handler.onResponseError?.(this.controller, error as Error)
    } catch (thrown) {
      rethrowLater(thrown)
    }
    this.#release()
  }

  /** The handed-over response ended: the caller's handler hears it now, keel's result aside. */
  committedEnded(attempt: AttemptHandler, response: DispatchedResponse): void {
    if (this.committed === attempt && !this.done) this.#end(response)
  }

  /** The handed-over response failed (reset, timeout, abort): the caller hears its error. */
  committedFailed(attempt: AttemptHandler, error: unknown): void {
    if (this.committed === attempt) this.fail(this.aborted ? this.abortReason : error)
  }

  #settled(value: DispatchedResponse | Upgraded): void {
    try {
      // Once a response was handed over, its own end or error is what the caller hears.
      if (!this.done && this.committed === undefined && value instanceof DispatchedResponse) this.#replay(value)
    } finally {
      this.host.runEnded()
    }
  }

  #failed(error: unknown): void {
    this.fail(this.aborted ? this.abortReason : lastAttemptError(error))
    this.host.runEnded()
  }

  #end(response: DispatchedResponse): void {
    this.done = true
    this.controller.rawTrailers = response.rawTrailers as RawHeaders
    try {
      this.handler.onResponseEnd?.(this.controller, response.trailers)
    } catch (error) {
      rethrowLater(error)
    }
    this.#release()
  }

  /**
   * The caller's handler got its last callback: let go of it and of the attempts. The handler may
   * keep this object (its controller) in a closure, as undici's `request()` does; whatever it still
   * reached was copied by every young-generation collection (docs/architecture.md, "… an adapter
   * let go of a finished request?").
   */
  #release(): void {
    this.committed = this.current = undefined
    this.handler = RELEASED
  }

  /**
   * keel stopped retrying on a held-back response: the caller gets it whole, now — or, for a body
   * that went past the hold limit, the held part now and the rest as its paused exchange resumes.
   */
  #replay(response: DispatchedResponse): void {
    const source = response.source as AttemptHandler
    this.committed = source
    const overflowing = response.overflow !== undefined
    response.overflow = undefined
    const { controller, handler } = this
    controller.rawHeaders = response.rawHeaders as RawHeaders
    const { first, more } = response
    response.first = response.more = undefined
    try {
      handler.onResponseStart?.(controller, response.statusCode, response.headers, response.statusText)
      if (first !== undefined) this.#forwardHeld(first, more)
    } catch (error) {
      this.fail(error)
      if (overflowing) source.abort(error as Error)
      return
    }
    if (this.done) return
    if (!overflowing) this.#end(response)
    else if (!controller.paused) source.controller?.resume()
  }

  #onceBody(): AsyncIterable<unknown> {
    const source = this.opts.body as unknown as AsyncIterable<unknown>
    // A fresh wrapper per attempt: the source is only read when undici writes the body, so an
    // attempt refused before that leaves it untouched for the retry.
    return (async function* (run: DispatchRun) {
      run.touched = true
      yield* source
    })(this)
  }
}
