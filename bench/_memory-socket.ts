// An in-memory HTTP/1.1 server socket for the A/B benchmarks (bench/http-ab.ts,
// bench/http-agent-ab.ts): no kernel networking and no server process, so a busy machine disturbs
// the client CPU they measure far less than a loopback run does.
import { Duplex } from 'node:stream'
import type { Pool } from 'undici'

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok')

/**
 * A keep-alive HTTP/1.1 server in memory: one `200 ok` per request head, on the next turn. With
 * `emitConnect` it announces itself as node:http's `createConnection` sockets do.
 */
export class MemorySocket extends Duplex {
  #pending = ''
  readonly remoteAddress = '127.0.0.1'

  constructor(emitConnect = false) {
    super()
    if (emitConnect) setImmediate(() => this.emit('connect'))
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.#pending += chunk.toString('latin1')
    for (let end = this.#pending.indexOf('\r\n\r\n'); end !== -1; end = this.#pending.indexOf('\r\n\r\n')) {
      this.#pending = this.#pending.slice(end + 4)
      setImmediate(() => this.push(RESPONSE))
    }
    callback()
  }

  // What undici and node:http call on a net.Socket.
  setKeepAlive(): this {
    return this
  }
  setNoDelay(): this {
    return this
  }
  setTimeout(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
}

/** undici's `connect` option handing each new connection an in-memory server. */
export const memoryConnect = ((_options: unknown, callback: (error: null, socket: Duplex) => void) => {
  const socket = new MemorySocket()
  queueMicrotask(() => callback(null, socket))
  return socket
}) as unknown as NonNullable<Pool.Options['connect']>

/**
 * Three backends for the in-memory socket: it answers for any address, so these are never
 * dialled; they only give a client three origins (three Pools, three agents' pools) to spread over.
 */
export const MEMORY_URLS = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']
