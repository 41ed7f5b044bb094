import type { IncomingHttpHeaders } from 'node:http'

export type RawHeaders = Buffer[] | string[] | IncomingHttpHeaders | null

/**
 * Ends an attempt the caller aborted or that lost to another: named like the DOM's abort, and its
 * attempt tells keel its verdict (`cancelled`) through `AttemptControl.knownVerdict`.
 */
export class AbortedAttempt extends Error {
  readonly code: string
  constructor(message: string, cause: unknown) {
    super(message, { cause })
    this.name = 'AbortError'
    this.code = 'UND_ERR_ABORTED'
  }
}
