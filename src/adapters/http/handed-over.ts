import type { AttemptControl } from '../../core/ports.ts'

/** The head of a response: what keel classifies (status and `Retry-After`). */
export interface ResponseHead {
  readonly status: number
  readonly statusText: string
  /** Anything with `get(name)`: a fetch `Headers`, axios' `AxiosHeaders`. */
  readonly headers: { get(name: string): unknown }
  readonly url: string
}

/**
 * What keel gets back for a response an adapter handles itself (one handed to the caller, or an
 * axios response): its status and headers, so keel classifies the attempt as a `Response`, but no
 * body, so nothing keel does (a hedge's bookkeeping, a late cancellation, `discard`) can read or
 * cancel a body that is the caller's.
 */
export class HandedOver {
  readonly status: number
  readonly statusText: string
  readonly headers: ResponseHead['headers']
  readonly url: string
  readonly body = null
  readonly bodyUsed = true

  constructor(res: ResponseHead) {
    this.status = res.status
    this.statusText = res.statusText
    this.headers = res.headers
    this.url = res.url
  }

  get [Symbol.toStringTag](): string {
    return 'Response'
  }
}

/** Ends an attempt that lost to another one of the same call: keel's verdict is `cancelled`. */
export class AttemptLost extends Error {
  /** @param control the attempt's control, told its verdict (`cancelled`) */
  constructor(control: AttemptControl | undefined) {
    super('Another attempt of this call answered first')
    // The DOM's name for an aborted operation, for whoever logs it; keel learns the verdict below.
    this.name = 'AbortError'
    control?.knownVerdict('cancelled')
  }
}
