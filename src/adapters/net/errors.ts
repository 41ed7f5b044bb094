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

/**
 * `createProxy`'s `idleTimeout`: nothing moved either way on a proxied connection for that long,
 * so the proxy closed both sides (nginx's `proxy_timeout`, HAProxy's `timeout client`/`server`).
 */
export class ProxyIdleTimeoutError extends KeelError {
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super('KEEL_PROXY_IDLE_TIMEOUT', `Nothing moved either way on a proxied connection for ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
  }
}
