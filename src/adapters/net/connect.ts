import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { dial } from './dial.ts'
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
    const base = this.host.callOptions
    const callOptions: CallOptions =
      signal === undefined && key === undefined
        ? base
        : { ...base, ...(signal === undefined ? {} : { signal }), ...(key === undefined ? {} : { key }) }
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
    const port = this.host.port
    const control = port.control(attempt)!
    const socket = await dial(this.host, endpoint, control, this.options)
    // The connection is the caller's from here: keel never retries after it (a connection is
    // opened once per `connect()`), its latency sample is the connect time, and it stays in
    // flight until it closes.
    control.handOver()
    port.established(attempt)
    const held = holdConnection(this.host, socket, control)
    this.#delivered = true
    this.#resolve(socket)
    return held
  }
}
