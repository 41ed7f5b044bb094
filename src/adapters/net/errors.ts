import { KeelError } from '../../model/errors.ts'

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
  }
}
