import { createServer, type Server, type Socket } from 'node:net'
import { isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { ConnectRun } from './connect.ts'
import { netHost } from './host.ts'
import { type ConnectOptions, resolveConnect } from './options.ts'

/** Options of `createProxy()`. */
export interface ProxyOptions {
  /**
   * How each upstream connection is made: `timeout`, `tls`, `noDelay`, `key` (the same key for
   * every connection; `signal` and `allowHalfOpen` are the proxy's). @default {}
   */
  readonly connect?: Omit<ConnectOptions, 'signal' | 'allowHalfOpen'>
  /**
   * Called when a client's connection could not be proxied (no endpoint, every attempt failed)
   * or one side failed; the other side has been closed. @default undefined (errors are dropped:
   * the client sees its connection closed)
   */
  readonly onError?: (error: unknown, client: Socket) => void
}

const KEYS = ['connect', 'onError'] as const

/**
 * A TCP proxy: each accepted connection is piped to `connect(balancer)` both ways, with
 * backpressure (`pipe` pauses the faster side), half-close (a FIN from either side is passed on
 * while the other direction keeps flowing) and errors on either side closing the other. Call
 * `listen()` on it as on any `net.Server`. The classic Go TCP proxy's pair of `io.Copy`
 * goroutines, with what it usually leaves out (half-close, closing the peer on error); HAProxy's
 * `mode tcp` is the reference behaviour.
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
  const onError = options.onError
  if (onError !== undefined && typeof onError !== 'function') throw typeError('onError', 'a function', onError)
  return createServer({ allowHalfOpen: true, noDelay: connectOptions.noDelay }, (client) => {
    const report = (error: unknown) => {
      if (onError !== undefined) onError(error, client)
    }
    client.on('error', () => {})
    // No signal: a client that leaves while its upstream connection is being made gets that
    // connection closed as soon as it is up (splice), which keeps each connect on keel's simple path.
    new ConnectRun(host, connectOptions).start().then(
      (upstream) => splice(client, upstream, report),
      (error: unknown) => {
        const gone = client.destroyed
        client.destroy()
        if (!gone) report(error)
      },
    )
  })
}

/** Pipes two connected sockets into each other until both directions are done. */
function splice(client: Socket, upstream: Socket, report: (error: unknown) => void): void {
  let failed = false
  const fail = (error: Error) => {
    if (failed) return
    failed = true
    report(error)
  }
  client.on('error', fail)
  upstream.on('error', fail)
  join(client, upstream)
  join(upstream, client)
  client.pipe(upstream)
  upstream.pipe(client)
  // The client may have closed while the upstream connection was being made.
  if (client.destroyed) upstream.destroy()
}

/**
 * When `a` closes, `b` follows: at once after an error or an abrupt close; otherwise after
 * flushing what it still has to write (both of `a`'s directions are done, so nothing more flows).
 */
function join(a: Socket, b: Socket): void {
  a.once('close', (hadError) => {
    if (b.destroyed) return
    if (hadError || !a.readableEnded) b.destroy()
    else b.end(() => b.destroy())
  })
}
