import type { OnReadOpts, Socket } from 'node:net'
import type { TimerEntry } from '../../internal/timer-queue.ts'
import { ProxyIdleTimeoutError } from './errors.ts'
import type { NetHost } from './host.ts'

/**
 * Upstream bytes are read into buffers of the connection's own (`net.connect`'s `onread`): no
 * allocation per read. A connection starts with 16 KiB (nginx's stream `proxy_buffer_size`), so
 * idle and request/response connections hold little; the first read that fills it (a bulk
 * transfer) moves the connection to 64 KiB, the size libuv suggests for a read (Node's default
 * reads allocate a buffer that size each time).
 */
const SMALL = 16 * 1024
const LARGE = 64 * 1024

/**
 * Buffers of closed connections, reused by new ones: a connection-rate load would otherwise
 * allocate (and make the garbage collector reclaim) a buffer per connection. Up to 64 of each
 * size are kept (5 MiB).
 */
const smallPool: Buffer[] = []
const largePool: Buffer[] = []
const POOL_MAX = 64

/**
 * One proxied connection: the client's socket (accepted paused) joined to its upstream socket,
 * both ways, without `pipe()`. Upstream → client reads into buffers of this connection's (no
 * allocation per read) and writes them to the client; while that write is pending (the client
 * reads slower than the upstream sends) upstream reads stop, and resume once it is flushed, so a
 * buffer is never overwritten under a pending write. Client → upstream is the socket's `'data'`,
 * paused while `write()` returns false, resumed on `'drain'`. A FIN from either side is passed on
 * (`end()`) while the other direction keeps flowing; when a socket closes the other follows (at
 * once after an error or an abrupt close, after flushing otherwise). With `idleTimeout`, a
 * connection where nothing moved either way for that long is closed (nginx's `proxy_timeout`).
 */
export class Splice {
  readonly client: Socket
  upstream: Socket | undefined
  /** Upstream `onread`, or undefined over TLS (a `TLSSocket` reads into its own buffers). */
  readonly onread: OnReadOpts | undefined
  readonly #host: NetHost
  readonly #idleTimeout: number
  readonly #report: (error: unknown, client: Socket) => void
  #reported = false
  /** Upstream reads are stopped until the client's pending write is flushed. */
  #waiting = false
  #lastActive = 0
  #idleTimer: TimerEntry | undefined
  /** Sockets of this connection that have closed (its buffers are free again when both have). */
  #closed = 0
  #small: Buffer | undefined
  #large: Buffer | undefined

  constructor(
    client: Socket,
    host: NetHost,
    idleTimeout: number,
    tls: boolean,
    report: (error: unknown, client: Socket) => void,
  ) {
    this.client = client
    this.#host = host
    this.#idleTimeout = idleTimeout
    this.#report = report
    if (tls) this.onread = undefined
    else {
      this.#small = smallPool.pop() ?? Buffer.allocUnsafe(SMALL)
      this.onread = { buffer: this.#nextBuffer, callback: this.#fromUpstream }
    }
    client.on('error', this.#onError)
  }

  /** No upstream connection could be made: the buffer was never read into. */
  notConnected(error: unknown): void {
    this.#release()
    const client = this.client
    const gone = client.destroyed
    client.destroy()
    if (!gone) this.fail(error)
  }

  /** Reports the first error of this connection (either side's, or keel's when none could be made). */
  fail(error: unknown): void {
    if (this.#reported) return
    this.#reported = true
    this.#report(error, this.client)
  }

  /** The upstream connection is up (called in its `'connect'` event, before it has read anything). */
  connected(upstream: Socket): void {
    const client = this.client
    this.upstream = upstream
    upstream.on('error', this.#onError)
    if (this.onread === undefined) {
      upstream.on('data', this.#fromUpstreamData)
      client.on('drain', this.#resumeUpstream)
    }
    client.on('data', this.#fromClient)
    upstream.on('drain', this.#resumeClient)
    // `on`, not `once`: each of these fires once per socket, and `once` wraps every listener.
    client.on('end', this.#clientEnded)
    upstream.on('end', this.#upstreamEnded)
    client.on('close', this.#clientClosed)
    upstream.on('close', this.#upstreamClosed)
    if (this.#idleTimeout > 0) {
      const now = this.#host.port.clock.now()
      this.#lastActive = now
      this.#idleTimer = this.#host.port.timers.schedule(now + this.#idleTimeout, this.#checkIdle)
    }
    // The client's connection was accepted paused: what it sent meanwhile waited in the kernel.
    if (client.destroyed) upstream.destroy()
    else client.resume()
  }

  readonly #onError = (error: Error): void => this.fail(error)

  /** Node asks for the buffer of the next read (once at the start, then after each read). */
  readonly #nextBuffer = (): Buffer => this.#large ?? this.#small!

  readonly #fromUpstream = (bytes: number, buffer: Uint8Array): boolean => {
    if (this.#idleTimer !== undefined) this.#lastActive = this.#host.port.clock.now()
    // A full small buffer: a bulk transfer, read 64 KiB at a time from the next read on.
    if (bytes === SMALL && this.#large === undefined) this.#large = largePool.pop() ?? Buffer.allocUnsafe(LARGE)
    const client = this.client
    client.write(bytes === buffer.length ? buffer : buffer.subarray(0, bytes), this.#clientFlushed)
    // Written at once (the usual case): the buffer is free for the next read.
    if (client.writableLength === 0) return true
    this.#waiting = true
    return false
  }

  readonly #clientFlushed = (): void => {
    if (this.#waiting && this.client.writableLength === 0) {
      this.#waiting = false
      this.upstream!.resume()
    }
  }

  readonly #fromUpstreamData = (chunk: Buffer): void => {
    if (this.#idleTimer !== undefined) this.#lastActive = this.#host.port.clock.now()
    if (!this.client.write(chunk)) this.upstream!.pause()
  }

  readonly #resumeUpstream = (): void => {
    this.upstream!.resume()
  }

  readonly #fromClient = (chunk: Buffer): void => {
    if (this.#idleTimer !== undefined) this.#lastActive = this.#host.port.clock.now()
    if (!this.upstream!.write(chunk)) this.client.pause()
  }

  readonly #resumeClient = (): void => {
    this.client.resume()
  }

  readonly #clientEnded = (): void => {
    this.upstream!.end()
  }

  readonly #upstreamEnded = (): void => {
    this.client.end()
  }

  readonly #clientClosed = (hadError: boolean): void => {
    this.#stopIdle()
    if (++this.#closed === 2) this.#release()
    follow(this.client, this.upstream!, hadError)
  }

  readonly #upstreamClosed = (hadError: boolean): void => {
    this.#stopIdle()
    if (++this.#closed === 2) this.#release()
    follow(this.upstream!, this.client, hadError)
  }

  /** Both sockets are closed: no read can fill the buffers, no write still points into them. */
  #release(): void {
    if (this.#small !== undefined && smallPool.length < POOL_MAX) smallPool.push(this.#small)
    if (this.#large !== undefined && largePool.length < POOL_MAX) largePool.push(this.#large)
    this.#small = undefined
    this.#large = undefined
  }

  readonly #checkIdle = (): void => {
    const { clock, timers } = this.#host.port
    const now = clock.now()
    const due = this.#lastActive + this.#idleTimeout
    if (now < due) {
      this.#idleTimer = timers.schedule(due, this.#checkIdle)
      return
    }
    this.#idleTimer = undefined
    this.fail(new ProxyIdleTimeoutError(this.#idleTimeout))
    // The proxy's decision, not the endpoint's fault: the upstream attempt ends as a success.
    this.client.destroy()
    this.upstream!.destroy()
  }

  #stopIdle(): void {
    if (this.#idleTimer === undefined) return
    this.#host.port.timers.cancel(this.#idleTimer)
    this.#idleTimer = undefined
  }
}

/**
 * When `a` closes, `b` follows: at once after an error or an abrupt close; otherwise after
 * flushing what it still has to write (both of `a`'s directions are done, so nothing more flows).
 */
function follow(a: Socket, b: Socket, hadError: boolean): void {
  if (b.destroyed) return
  if (hadError || !a.readableEnded) b.destroy()
  else b.end(() => b.destroy())
}
