import { VERDICT_HINT } from '../../classify.ts'
import { KeelError } from '../../errors.ts'
import type { Verdict } from '../../verdict.ts'

/**
 * A connection attempt that was not established within `timeout` (TCP connect plus the TLS
 * handshake). Nothing of the caller's was sent: `not-sent`, and `connect()` fails over.
 */
export class ConnectTimeoutError extends KeelError {
  readonly timeoutMs: number
  readonly endpoint: string

  constructor(timeoutMs: number, endpoint: string) {
    super('KEEL_CONNECT_TIMEOUT', `Connecting to ${endpoint} took longer than ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
    this.endpoint = endpoint
    hintVerdict(this, 'not-sent')
  }
}

/**
 * Tells keel's classifier what an error means for the endpoint when the adapter knows better than
 * the error's code: every failure before the socket is handed over is `not-sent` (a reset during
 * the TLS handshake included), every failure after it an `endpoint-failure`.
 */
export function hintVerdict<E>(error: E, verdict: Verdict): E {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, VERDICT_HINT, { value: verdict, configurable: true })
  }
  return error
}
