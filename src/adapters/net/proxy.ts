import { createServer, type Server, type Socket } from 'node:net'
import { checkNumber, isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { startConnect } from './connect.ts'
import { netHost } from './host.ts'
import { type ConnectOptions, resolveConnect } from './options.ts'
import { Splice } from './splice.ts'

/** Options of `createProxy()`. */
export interface ProxyOptions {
  /**
   * How each upstream connection is made: `timeout`, `tls`, `noDelay`, `key` (the same key for
   * every connection; `signal` and `allowHalfOpen` are the proxy's). @default {}
   */
  readonly connect?: Omit<ConnectOptions, 'signal' | 'allowHalfOpen'>
  /**
   * ms a proxied connection may stay idle (no byte either way) before the proxy closes both
   * sides; `0` never closes it. nginx's stream `proxy_timeout` (10 minutes by default); HAProxy's
   * `timeout client` / `timeout server` (required there, no default). On keel's clock, checked
   * at most once per `idleTimeout`. @default 600_000 (10 minutes, nginx's `proxy_timeout`)
   */
  readonly idleTimeout?: number
  /**
   * Called when a client's connection could not be proxied (no endpoint, every attempt failed),
   * one side failed, or it was closed for being idle (`ProxyIdleTimeoutError`); the other side has
   * been closed. @default undefined (errors are dropped: the client sees its connection closed)
   */
  readonly onError?: (error: unknown, client: Socket) => void
}

const KEYS = ['connect', 'idleTimeout', 'onError'] as const
const MAX_TIMER = 2_147_483_647
const DEFAULT_IDLE_TIMEOUT = 600_000
const ignore = () => {}

/**
 * A TCP proxy: each accepted connection is joined to `connect(balancer)` both ways, with
 * backpressure (the faster side pauses while the other's writes are pending), half-close (a FIN
 * from either side is passed on while the other direction keeps flowing) and errors on either
 * side closing the other. Call `listen()` on it as on any `net.Server`. The classic Go TCP proxy's
 * pair of `io.Copy` goroutines, with what it usually leaves out (half-close, closing the peer on
 * error, an idle timeout); HAProxy's `mode tcp` is the reference behaviour.
 */
export function createProxy(balancer: unknown, options: ProxyOptions = {}): Server {
  const host = netHost(balancer)
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, KEYS)
  if (options.connect !== undefined && !isPlainObject(options.connect)) {
    throw typeError('connect', 'an object', options.connect)
  }
  const { signal, allowHalfOpen, ...rest } = (options.connect ?? {}) as ConnectOptions
  if (signal !== undefined || allowHalfOpen !== undefined) {
    throw typeError(
      signal !== undefined ? 'connect.signal' : 'connect.allowHalfOpen',
      'absent (the proxy sets it)',
      signal ?? allowHalfOpen,
    )
  }
  // Resolved once: every upstream connection is made with the same options, half-open allowed.
  const connectOptions = resolveConnect({ ...rest, allowHalfOpen: true }, 'connect')
  const idleTimeout =
    checkNumber('idleTimeout', options.idleTimeout, { min: 0, max: MAX_TIMER }) ?? DEFAULT_IDLE_TIMEOUT
  const onError = options.onError
  if (onError !== undefined && typeof onError !== 'function') throw typeError('onError', 'a function', onError)
  const report = (onError as ProxyOptions['onError']) ?? ignore
  const tls = connectOptions.tls !== undefined
  // Accepted paused: nothing is read from the client until its upstream connection is up, so
  // what it sends meanwhile waits in the kernel instead of in JavaScript buffers.
  return createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: connectOptions.noDelay }, (client) => {
    const splice = new Splice(client, host, idleTimeout, tls, report)
    // No signal: a client that leaves while its upstream connection is being made is seen once
    // that connection is up and the client is read (its FIN or reset is passed on), which keeps
    // each connect on keel's simple path.
    startConnect(
      host,
      connectOptions,
      (upstream) => splice.connected(upstream),
      (error: unknown) => splice.notConnected(error),
      splice.onread,
    )
  })
}
