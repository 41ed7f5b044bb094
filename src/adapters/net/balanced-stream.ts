import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { startConnect } from './connect.ts'
import type { NetHost } from './host.ts'
import type { ResolvedConnect } from './options.ts'

/**
 * A `Duplex` that becomes a balanced connection when `connect()` is called: for clients that take
 * a stream they connect themselves (`pg`'s `stream` option calls `stream.connect(port, host)` and
 * waits for `'connect'`; keel ignores the address and picks an endpoint). Bytes pass through to the
 * real socket with backpressure both ways; `'connect'`, `'end'`, `'error'` and `'close'` follow it.
 */
export class BalancedStream extends Duplex {
  readonly #host: NetHost
  readonly #options: ResolvedConnect
  readonly #aborter = new AbortController()
  #socket: Socket | undefined
  /** The socket emitted `'close'` (its `closed` flag is set a tick before the event). */
  #socketClosed = false
  #started = false
  /** A write that arrived before the connection: completed once connected. */
  #pending: (() => void) | undefined
  connecting = false

  /** @internal Made by `connect(balancer)`; not constructed directly. */
  constructor(host: NetHost, options: ResolvedConnect) {
    super({ allowHalfOpen: true })
    this.#host = host
    this.#options = options
  }

  /** Starts the balanced connection; the address a client passes is ignored. */
  connect(..._ignored: unknown[]): this {
    if (this.#started || this.destroyed) return this
    this.#started = true
    this.connecting = true
    const options = { ...this.#options, signal: this.#aborter.signal }
    startConnect(
      this.#host,
      options,
      (socket) => this.#attach(socket),
      (error: unknown) => {
        this.connecting = false
        this.destroy(error as Error)
      },
    )
    return this
  }

  #attach(socket: Socket): void {
    this.connecting = false
    if (this.destroyed) {
      socket.destroy()
      return
    }
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause()
    })
    socket.on('end', () => this.push(null))
    socket.on('error', (error) => this.destroy(error))
    socket.on('close', () => {
      this.#socketClosed = true
      this.destroy()
    })
    this.emit('connect')
    this.emit('ready')
    const pending = this.#pending
    this.#pending = undefined
    pending?.()
  }

  /** The connected socket (undefined before `'connect'`). */
  get socket(): Socket | undefined {
    return this.#socket
  }

  get remoteAddress(): string | undefined {
    return this.#socket?.remoteAddress
  }

  get remotePort(): number | undefined {
    return this.#socket?.remotePort
  }

  /** As `net.Socket#setNoDelay`, applied once connected. */
  setNoDelay(noDelay?: boolean): this {
    if (this.#socket !== undefined) this.#socket.setNoDelay(noDelay)
    else this.once('connect', () => this.#socket?.setNoDelay(noDelay))
    return this
  }

  /** As `net.Socket#setKeepAlive`, applied once connected. */
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    if (this.#socket !== undefined) this.#socket.setKeepAlive(enable, initialDelay)
    else this.once('connect', () => this.#socket?.setKeepAlive(enable, initialDelay))
    return this
  }

  /** As `net.Socket#ref`: the connection keeps the process alive. */
  ref(): this {
    this.#socket?.ref()
    return this
  }

  /** As `net.Socket#unref`: the connection does not keep the process alive. */
  unref(): this {
    this.#socket?.unref()
    return this
  }

  /** @internal The stream implementation. */
  override _read(): void {
    this.#socket?.resume()
  }

  /** @internal The stream implementation. */
  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const socket = this.#socket
    if (socket !== undefined) {
      socket.write(chunk, encoding, callback)
      return
    }
    if (!this.#started) this.connect()
    this.#pending = () => this.#socket!.write(chunk, encoding, callback)
  }

  /** @internal The stream implementation. */
  override _final(callback: (error?: Error | null) => void): void {
    const socket = this.#socket
    if (socket === undefined) callback()
    else socket.end(callback)
  }

  /** `'close'` follows the real socket's, so by then its attempt has ended. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const socket = this.#socket
    // Only a connection still being made is aborted: an established one closes (a `success`).
    if (socket === undefined) this.#aborter.abort()
    if (socket === undefined || this.#socketClosed) {
      callback(error)
      return
    }
    socket.once('close', () => callback(error))
    socket.destroy()
  }
}
