import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Attempt } from '../../attempt.ts'
import type { Endpoint } from '../../endpoint.ts'
import type { CallOptions } from '../../options.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { dial } from './dial.ts'
import { hintVerdict } from './errors.ts'
import { holdConnection } from './held.ts'
import { type NetHost, netHost } from './host.ts'
import { type ConnectOptions, type ResolvedConnect, resolveConnect } from './options.ts'

/**
 * A TCP (or TLS) connection to an endpoint picked by the balancer. The returned socket is
 * connected; its attempt stays in flight until the socket closes, so `least-request` balances open
 * connections (least-connections) and a drained endpoint's connections are destroyed after
 * `drainTimeout`. A refused, reset or timed-out connection attempt fails over to another endpoint
 * (within the balancer's `retry` settings and budget); the promise rejects with the last attempt's
 * own error (`ECONNREFUSED`, `ConnectTimeoutError`…) or keel's (`NoEndpointAvailableError`).
 */
export function connect(balancer: unknown, options?: ConnectOptions): Promise<Socket | TLSSocket> {
  let host: NetHost
  let resolved: ResolvedConnect
  try {
    host = netHost(balancer)
    resolved = resolveConnect(options)
  } catch (error) {
    return Promise.reject(error)
  }
  return new ConnectRun(host, resolved).start()
}

/** The options every `connect()` passes to `balancer.call`, by whether it has a key or signal. */
const BASE_CALL: CallOptions = Object.freeze({ idempotent: false })

/** One `connect()`: a `balancer.call` whose attempt dials, hands the socket over and holds it. */
export class ConnectRun {
  readonly host: NetHost
  readonly options: ResolvedConnect
  #delivered = false
  #resolve!: (socket: Socket) => void

  constructor(host: NetHost, options: ResolvedConnect) {
    this.host = host
    this.options = options
  }

  start(): Promise<Socket> {
    const { signal, key } = this.options
    const callOptions: CallOptions =
      signal === undefined && key === undefined
        ? BASE_CALL
        : {
            idempotent: false,
            ...(signal === undefined ? {} : { signal }),
            ...(key === undefined ? {} : { key }),
          }
    return new Promise<Socket>((resolve, reject) => {
      this.#resolve = resolve
      this.host.balancer.call(this.attempt, callOptions).then(
        () => {},
        (error: unknown) => {
          // After the hand-over the call's outcome is the connection's: the caller sees it on the socket.
          if (!this.#delivered) reject(lastAttemptError(error))
        },
      )
    })
  }

  readonly attempt = async (endpoint: Endpoint<unknown>, attempt: Attempt): Promise<void> => {
    // A retry decided by a user's `shouldRetry` after the connection was handed over: a
    // connection is never opened twice for one `connect()`.
    if (this.#delivered) throw hintVerdict(new Error('connection already handed over'), 'cancelled')
    const socket = await dial(this.host, endpoint, attempt, this.options)
    const held = holdConnection(this.host, socket, attempt)
    this.#delivered = true
    this.#resolve(socket)
    return held
  }
}
