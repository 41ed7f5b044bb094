import type { AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import { usageError } from '../../model/errors.ts'
import type { IdleTimeouts } from '../http/timeouts.ts'
import { heldWhole, rawContentLength } from '../http/whole-body.ts'

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

function globalDispatcher(current: boolean): DispatchTarget | undefined {
  const g = globalThis as unknown as Record<symbol, DispatchTarget | undefined>
  return current ? (g[GLOBAL_CURRENT] ?? g[GLOBAL_LEGACY]) : g[GLOBAL_LEGACY]
}

/**
 * Forwards every callback of a handler in undici's current API, noting when the response ends.
 * It must not look like a legacy handler (undici tells the two apart by `onRequestStart`).
 */
class Tap {
  readonly owner: AttemptDispatcher
  readonly handler: Handler
  controller: { abort(reason: unknown): void } | undefined
  /** A small response held until its body ends (`AttemptDispatcher.holdWhole`): its callbacks' arguments. */
  held: unknown[][] | undefined = undefined

  constructor(owner: AttemptDispatcher, handler: Handler) {
    this.owner = owner
    this.handler = handler
  }

  onRequestStart(controller: { abort(reason: unknown): void }, context: unknown): unknown {
    this.controller = controller
    const result = this.handler.onRequestStart?.(controller, context)
    if (this.owner.abortReason !== undefined) controller.abort(this.owner.abortReason)
    return result
  }
  onRequestUpgrade(...args: unknown[]): unknown {
    this.owner.ended(this, undefined)
    return this.handler.onRequestUpgrade?.(...args)
  }
  onResponseStart(...args: unknown[]): unknown {
    const headers = args[2] as Record<string, unknown> | undefined
    if (this.owner.holdWhole && (args[1] as number) >= 200 && heldWhole(headers?.['content-length'])) {
      this.held = [args]
      return undefined
    }
    return this.handler.onResponseStart?.(...args)
  }
  onResponseData(...args: unknown[]): unknown {
    if (this.held !== undefined) {
      this.held.push(args)
      return undefined
    }
    return this.handler.onResponseData?.(...args)
  }
  onResponseEnd(...args: unknown[]): unknown {
    try {
      const held = this.held
      if (held !== undefined) {
        // The body arrived whole: fetch now gets the response, then its body, then its end.
        this.held = undefined
        this.handler.onResponseStart?.(...held[0]!)
        for (let i = 1; i < held.length; i++) this.handler.onResponseData?.(...held[i]!)
      }
      return this.handler.onResponseEnd?.(...args)
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
  onBodySent(...args: unknown[]): unknown {
    return this.handler.onBodySent?.(...args)
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
}

/** The same for a legacy handler (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`). */
class LegacyTap {
  readonly owner: AttemptDispatcher
  readonly handler: Handler
  #abort: ((reason: unknown) => void) | undefined
  held: unknown[][] | undefined = undefined

  constructor(owner: AttemptDispatcher, handler: Handler) {
    this.owner = owner
    this.handler = handler
  }

  onConnect(abort: (reason: unknown) => void, context: unknown): unknown {
    this.#abort = abort
    const result = this.handler.onConnect?.(abort, context)
    if (this.owner.abortReason !== undefined) abort(this.owner.abortReason)
    return result
  }
  onUpgrade(...args: unknown[]): unknown {
    this.owner.ended(this, undefined)
    return this.handler.onUpgrade?.(...args)
  }
  onHeaders(...args: unknown[]): unknown {
    if (this.owner.holdWhole && (args[0] as number) >= 200 && heldWhole(rawContentLength(args[1] as unknown[]))) {
      this.held = [args]
      return true
    }
    return this.handler.onHeaders?.(...args)
  }
  onData(...args: unknown[]): unknown {
    if (this.held !== undefined) {
      this.held.push(args)
      return true
    }
    return this.handler.onData?.(...args)
  }
  onComplete(...args: unknown[]): unknown {
    try {
      const held = this.held
      if (held !== undefined) {
        this.held = undefined
        this.handler.onHeaders?.(...held[0]!)
        for (let i = 1; i < held.length; i++) this.handler.onData?.(...held[i]!)
      }
      return this.handler.onComplete?.(...args)
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
  onBodySent(...args: unknown[]): unknown {
    return this.handler.onBodySent?.(...args)
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
}

/**
 * The `dispatcher` of one fetch attempt: it forwards to the real dispatcher (the endpoint's Pool,
 * the caller's `dispatcher`, or undici's global one that fetch would use anyway) and watches the
 * exchange below fetch, so keel knows when the response body has been received whole, or failed —
 * without wrapping the Response or its stream — and can abort the exchange when it cancels the
 * attempt. With redirects fetch dispatches again; the last exchange is the one that counts.
 */
export class AttemptDispatcher implements DispatchTarget, AttemptCanceller {
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
    const tap = current ? new Tap(this, h) : new LegacyTap(this, h)
    this.#current = tap
    this.#ended = false
    this.#error = undefined
    // fetch sets no per-request limits, so undici's dispatcher defaults (300 s) would apply:
    // keel's idle limits go with each exchange instead (undici reads them per request).
    const o = options as { headersTimeout?: number | null; bodyTimeout?: number | null }
    const limited = {
      ...options,
      headersTimeout: o.headersTimeout ?? this.#timeouts.headersTimeout,
      bodyTimeout: o.bodyTimeout ?? this.#timeouts.bodyTimeout,
    }
    return target.dispatch(limited, tap)
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
