import type { AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import { usageError } from '../../model/errors.ts'
import type { IdleTimeouts } from '../http/timeouts.ts'
import { heldWhole, rawHeldWhole } from '../http/whole-body.ts'

/** The caller cancelled or dropped a handed-over body: keel's verdict is `cancelled`. */
class BodyDropped extends Error {
  constructor(reason: unknown) {
    super(`The response body was released before its end: ${String(reason)}`)
    this.name = 'AbortError'
  }
}

/**
 * Ends a handed-over attempt when its body ended (`error` undefined) or failed. A bare reason, not
 * an Error, is someone cancelling the body — undici's own `'Response object has been garbage
 * collected'` when the caller dropped it unread — never a network failure: the attempt is
 * cancelled and costs its endpoint nothing.
 */
export function reportBodyEnd(control: AttemptControl, value: unknown, error: unknown): void {
  if (error === undefined) control.succeed(value)
  else control.fail(typeof error === 'object' && error !== null ? error : new BodyDropped(error))
}

/** What fetch needs of a `dispatcher`: undici's `dispatch(options, handler)`. */
export interface DispatchTarget {
  dispatch(options: object, handler: object): boolean
}

type Handler = Record<string, ((...args: unknown[]) => unknown) | undefined>

// undici keeps its global dispatcher under these symbols: `.1` for the legacy handler API (what
// Node 22 and 24's built-in fetch dispatch with), `.2` for the current one (undici ≥ 8).
const GLOBAL_LEGACY = Symbol.for('undici.globalDispatcher.1')
const GLOBAL_CURRENT = Symbol.for('undici.globalDispatcher.2')

/** undici's global dispatcher for a handler in the current (`true`) or the legacy API. */
export function globalDispatcher(current: boolean): DispatchTarget | undefined {
  const g = globalThis as unknown as Record<symbol, DispatchTarget | undefined>
  return current ? (g[GLOBAL_CURRENT] ?? g[GLOBAL_LEGACY]) : g[GLOBAL_LEGACY]
}

/**
 * What both taps share: a small response held whole until its body ends
 * (`AttemptDispatcher.holdWhole`): its head's arguments in fields and its body's chunks, the first
 * without an array (one chunk is the usual case), so holding allocates nothing per callback.
 */
abstract class HoldingTap {
  readonly owner: AttemptDispatcher
  /** Whom the exchange's callbacks go to: set when the exchange is dispatched. */
  handler: Handler
  holding = false
  /** The head's arguments, by position: (controller | status, status | headers, headers | resume, text). */
  head0: unknown = undefined
  head1: unknown = undefined
  head2: unknown = undefined
  head3: unknown = undefined
  first: unknown = undefined
  more: unknown[] | undefined = undefined

  /** Without `owner`, the tap is the dispatcher itself (`AttemptDispatcher`, its first exchange's tap). */
  constructor(owner: AttemptDispatcher | undefined, handler: Handler) {
    this.owner = owner ?? (this as unknown as AttemptDispatcher)
    this.handler = handler
  }

  holdHead(a: unknown, b: unknown, c: unknown, d: unknown): void {
    this.holding = true
    this.head0 = a
    this.head1 = b
    this.head2 = c
    this.head3 = d
  }

  holdChunk(chunk: unknown): void {
    if (this.first === undefined) this.first = chunk
    else if (this.more === undefined) this.more = [chunk]
    else this.more.push(chunk)
  }

  /** The body arrived whole: fetch now gets the response, then its body (its end follows). */
  release(): void {
    this.holding = false
    this.sendHead(this.head0, this.head1, this.head2, this.head3)
    const { first, more } = this
    this.head0 = this.head1 = this.head2 = this.head3 = this.first = this.more = undefined
    if (first === undefined) return
    this.sendChunk(first)
    if (more !== undefined) for (const chunk of more) this.sendChunk(chunk)
  }

  abstract sendHead(a: unknown, b: unknown, c: unknown, d: unknown): void
  abstract sendChunk(chunk: unknown): void
}

/**
 * Forwards every callback of a handler in undici's current API, noting when the response ends.
 * It must not look like a legacy handler (undici tells the two apart by `onRequestStart`).
 * Named parameters, not rest ones: a rest parameter is an array per callback.
 */
class Tap extends HoldingTap {
  controller: { abort(reason: unknown): void } | undefined

  onRequestStart(controller: { abort(reason: unknown): void }, context: unknown): unknown {
    this.controller = controller
    const result = this.handler.onRequestStart?.(controller, context)
    if (this.owner.abortReason !== undefined) controller.abort(this.owner.abortReason)
    return result
  }
  onRequestUpgrade(controller: unknown, statusCode: unknown, headers: unknown, socket: unknown): unknown {
    this.owner.ended(this, undefined)
    return this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }
  onResponseStart(controller: unknown, statusCode: number, headers: unknown, statusText: unknown): unknown {
    const length = (headers as Record<string, unknown> | undefined)?.['content-length']
    if (this.owner.holdWhole && statusCode >= 200 && heldWhole(length)) {
      this.holdHead(controller, statusCode, headers, statusText)
      return undefined
    }
    return this.handler.onResponseStart?.(controller, statusCode, headers, statusText)
  }
  onResponseData(controller: unknown, chunk: unknown): unknown {
    if (this.holding) {
      this.holdChunk(chunk)
      return undefined
    }
    return this.handler.onResponseData?.(controller, chunk)
  }
  onResponseEnd(controller: unknown, trailers: unknown): unknown {
    try {
      if (this.holding) this.release()
      return this.handler.onResponseEnd?.(controller, trailers)
    } finally {
      this.owner.ended(this, undefined)
    }
  }
  onResponseError(controller: unknown, error: unknown): unknown {
    try {
      return this.handler.onResponseError?.(controller, error)
    } finally {
      this.owner.ended(this, error ?? new Error('The request failed'))
    }
  }
  onBodySent(chunk: unknown): unknown {
    return this.handler.onBodySent?.(chunk)
  }
  onRequestSent(): unknown {
    return this.handler.onRequestSent?.()
  }
  onResponseStarted(): unknown {
    return this.handler.onResponseStarted?.()
  }
  abort(reason: unknown): void {
    this.controller?.abort(reason)
  }
  sendHead(controller: unknown, statusCode: unknown, headers: unknown, statusText: unknown): void {
    this.handler.onResponseStart?.(controller, statusCode, headers, statusText)
  }
  sendChunk(chunk: unknown): void {
    // The exchange's controller: fetch pauses it when its body stream is full.
    this.handler.onResponseData?.(this.controller, chunk)
  }
}

/** The same for a legacy handler (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`). */
class LegacyTap extends HoldingTap {
  #abort: ((reason: unknown) => void) | undefined

  onConnect(abort: (reason: unknown) => void, context: unknown): unknown {
    this.#abort = abort
    const result = this.handler.onConnect?.(abort, context)
    if (this.owner.abortReason !== undefined) abort(this.owner.abortReason)
    return result
  }
  onUpgrade(statusCode: unknown, headers: unknown, socket: unknown): unknown {
    this.owner.ended(this, undefined)
    return this.handler.onUpgrade?.(statusCode, headers, socket)
  }
  onHeaders(statusCode: number, headers: unknown, resume: unknown, statusText: unknown): unknown {
    if (this.owner.holdWhole && statusCode >= 200 && rawHeldWhole(headers as unknown[])) {
      this.holdHead(statusCode, headers, resume, statusText)
      return true
    }
    return this.handler.onHeaders?.(statusCode, headers, resume, statusText)
  }
  onData(chunk: unknown): unknown {
    if (this.holding) {
      this.holdChunk(chunk)
      return true
    }
    return this.handler.onData?.(chunk)
  }
  onComplete(trailers: unknown): unknown {
    try {
      if (this.holding) this.release()
      return this.handler.onComplete?.(trailers)
    } finally {
      this.owner.ended(this, undefined)
    }
  }
  onError(error: unknown): unknown {
    try {
      return this.handler.onError?.(error)
    } finally {
      this.owner.ended(this, error ?? new Error('The request failed'))
    }
  }
  onBodySent(chunk: unknown): unknown {
    return this.handler.onBodySent?.(chunk)
  }
  onRequestSent(): unknown {
    return this.handler.onRequestSent?.()
  }
  onResponseStarted(): unknown {
    return this.handler.onResponseStarted?.()
  }
  abort(reason: unknown): void {
    this.#abort?.(reason)
  }
  sendHead(statusCode: unknown, headers: unknown, resume: unknown, statusText: unknown): void {
    this.handler.onHeaders?.(statusCode, headers, resume, statusText)
  }
  sendChunk(chunk: unknown): void {
    this.handler.onData?.(chunk)
  }
}

/** The handler of a dispatcher that has not been dispatched through yet. */
const NO_HANDLER: Handler = Object.freeze({})

/**
 * The `dispatcher` of one fetch attempt: it forwards to the real dispatcher (the endpoint's Pool,
 * the caller's `dispatcher`, or undici's global one that fetch would use anyway) and watches the
 * exchange below fetch, so keel knows when the response body has been received whole, or failed —
 * without wrapping the Response or its stream — and can abort the exchange when it cancels the
 * attempt. With redirects fetch dispatches again; the last exchange is the one that counts.
 *
 * It is also the tap of its first exchange when fetch dispatches with a legacy handler, as Node's
 * own fetch does: one object per attempt instead of two. Another exchange (a redirect's), or a
 * handler in undici's current API, gets a tap of its own.
 */
export class AttemptDispatcher extends LegacyTap implements DispatchTarget, AttemptCanceller {
  readonly #target: DispatchTarget | undefined
  readonly #timeouts: IdleTimeouts
  #current: Tap | LegacyTap | undefined
  /** The last exchange ended, and how (undefined: its response was received whole). */
  #ended = false
  #error: unknown = undefined
  /** Told when the exchange of a handed-over response ends (`handOver`). */
  #control: AttemptControl | undefined = undefined
  #value: unknown = undefined
  /** keel cancelled the attempt: abort the exchange as soon as it starts. */
  abortReason: unknown
  /** The response went to the caller: keel must not retry whatever ends its exchange. */
  handedOver = false
  /**
   * Hold a small response (`Content-Length` ≤ 64 KiB) until its body ends before fetch sees it
   * (`http/whole-body.ts`): set for an idempotent request without a body that keel may still retry,
   * so a reset or stall mid-body fails the attempt (fetch rejects) and keel retries it.
   */
  holdWhole = false

  constructor(target: DispatchTarget | undefined, timeouts: IdleTimeouts) {
    super(undefined, NO_HANDLER)
    this.#target = target
    this.#timeouts = timeouts
  }

  /** fetch went through this dispatcher (a fetch not built on undici ignores it). */
  get dispatched(): boolean {
    return this.#current !== undefined
  }

  dispatch(options: object, handler: object): boolean {
    const h = handler as Handler
    const current = typeof h.onRequestStart === 'function' || typeof h.onResponseStart === 'function'
    const target = this.#target ?? globalDispatcher(current)
    if (target === undefined) {
      throw usageError('KEEL_NO_DISPATCHER', 'keel/fetch: no undici dispatcher to send the request through')
    }
    let tap: Tap | LegacyTap
    if (current) tap = new Tap(this, h)
    else if (this.#current === undefined) {
      this.handler = h
      tap = this
    } else tap = new LegacyTap(this, h)
    this.#current = tap
    this.#ended = false
    this.#error = undefined
    // fetch sets no per-request limits, so undici's dispatcher defaults (300 s) would apply:
    // keel's idle limits go with each exchange instead (undici reads them per request). fetch
    // builds these options for this one dispatch, so they are set in place, not copied.
    const o = options as { headersTimeout?: number | null; bodyTimeout?: number | null }
    o.headersTimeout ??= this.#timeouts.headersTimeout
    o.bodyTimeout ??= this.#timeouts.bodyTimeout
    return target.dispatch(options, tap)
  }

  /**
   * keel gave up on the attempt (deadline, attempt timeout, drain, close): stop the exchange, so
   * fetch fails or errors the body. Called through the attempt's `canceller`.
   */
  attemptCancelled(reason: unknown): void {
    this.abortReason ??= reason
    this.#current?.abort(reason)
  }

  ended(tap: Tap | LegacyTap, error: unknown): void {
    if (tap !== this.#current || this.#ended) return
    this.#ended = true
    this.#error = error
    const control = this.#control
    if (control === undefined) return
    const value = this.#value
    this.#control = undefined
    this.#value = undefined
    reportBodyEnd(control, value, error)
  }

  /**
   * The response went to the caller: ends the attempt (`value` for keel) when the last exchange's
   * response has been received whole, or failed — now, if it already has.
   */
  handOver(control: AttemptControl, value: unknown): void {
    this.handedOver = true
    if (this.#ended) {
      reportBodyEnd(control, value, this.#error)
      return
    }
    this.#control = control
    this.#value = value
  }
}
