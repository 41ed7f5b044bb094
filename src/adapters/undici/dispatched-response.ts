import type { IncomingHttpHeaders } from 'node:http'
import { HOLD_LIMIT } from '../http/whole-body.ts'

/** The trailers of a response until its end brings its own: one shared empty record. */
const NO_TRAILERS: IncomingHttpHeaders = Object.freeze({})

/**
 * What a `BalancerDispatcher` attempt returns to keel: a response shaped like undici's
 * `ResponseData` (`statusCode`, `headers`, `trailers`, `body.dump()`), so keel's classifier and a
 * user's `classify` read it like a `request()` result. While keel may still retry, the body is
 * held here (at most `HOLD_LIMIT` bytes); `dump()` drops it.
 */
export class DispatchedResponse {
  readonly statusCode: number
  readonly statusText: string
  readonly headers: IncomingHttpHeaders
  trailers: IncomingHttpHeaders = NO_TRAILERS
  readonly rawHeaders: unknown
  rawTrailers: unknown = undefined
  /**
   * The first body chunk held back while keel decides, and any later ones; undefined once handed
   * over or dumped. A small answer is one chunk: it costs no array.
   */
  first: Buffer | undefined = undefined
  more: Buffer[] | undefined = undefined
  held = 0
  /** Classified as anything but `success` when its headers arrived. */
  failure = false
  /** The attempt that received it (a `DispatchRun` hands over exactly one). */
  readonly source: object

  constructor(
    source: object,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusText: string,
    rawHeaders: unknown,
  ) {
    this.source = source
    this.statusCode = statusCode
    this.headers = headers
    this.statusText = statusText
    this.rawHeaders = rawHeaders
  }

  /** undici's `ResponseData.body` shape, for `discardValue` and classifiers. */
  get body(): this {
    return this
  }

  /** Holds a chunk back; false once more than `HOLD_LIMIT` bytes would be held. */
  hold(chunk: Buffer): boolean {
    this.held += chunk.length
    if (this.first === undefined) this.first = chunk
    else if (this.more === undefined) this.more = [chunk]
    else this.more.push(chunk)
    return this.held <= HOLD_LIMIT
  }

  /**
   * The body went past `HOLD_LIMIT` before keel decided: its exchange is paused, and this aborts
   * it. Cleared once the response is handed over (the rest then streams to the caller).
   */
  overflow: (() => void) | undefined = undefined

  /** Releases the held body of a response keel retried past (and the rest of an overflowing one). */
  dump(): Promise<void> {
    this.first = undefined
    this.more = undefined
    const overflow = this.overflow
    this.overflow = undefined
    overflow?.()
    return Promise.resolve()
  }
}
