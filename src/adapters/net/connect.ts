import type { OnReadOpts, Socket } from 'node:net'
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
  return new Promise((resolve, reject) => startConnect(host, resolved, resolve, reject))
}

/**
 * One balanced connection, callback style: a `balancer.call` whose attempt dials, hands the socket
 * over (`connected`, in the socket's `'connect'` event) and holds it until it closes; `failed`
 * hears the last attempt's own error when no connection could be made. No promise of its own: the
 * proxy makes one per accepted connection. `onread` is passed to `net.connect` (plain TCP only).
 */
export function startConnect(
  host: NetHost,
  options: ResolvedConnect,
  connected: (socket: Socket) => void,
  failed: (error: unknown) => void,
  onread?: OnReadOpts,
): void {
  const { signal, key } = options
  const base = host.callOptions
  const callOptions: CallOptions | undefined =
    signal === undefined && key === undefined
      ? base
      : { ...base, ...(signal === undefined ? {} : { signal }), ...(key === undefined ? {} : { key }) }
  let delivered = false
  const port = host.port
  const attempt = (endpoint: Endpoint<unknown>, attempt: Attempt): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const control = port.control(attempt)!
      dial(
        host,
        endpoint,
        control,
        options,
        (socket) => {
          // The connection is the caller's from here: keel never retries after it (a connection
          // is opened once per `connect()`), its latency sample is the connect time, and it stays
          // in flight until it closes.
          control.handOver()
          port.established(attempt)
          holdConnection(host, socket, control, resolve, reject)
          delivered = true
          connected(socket)
        },
        reject,
        onread,
      )
    })
  host.balancer.call(attempt, callOptions).then(undefined, (error: unknown) => {
    // After the hand-over the call's outcome is the connection's: the caller sees it on the socket.
    if (!delivered) failed(lastAttemptError(error))
  })
}
