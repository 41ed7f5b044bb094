import type { Duplex } from 'node:stream'
import { BalancedStream } from './balanced-stream.ts'
import { connect } from './connect.ts'
import { netHost } from './host.ts'
import { type ConnectOptions, resolveConnect } from './options.ts'

/**
 * node-postgres' `stream` option: `new pg.Pool({ stream: pgStream(balancer) })`. pg calls the
 * function for each new connection and then `stream.connect(port, host)`; keel picks the endpoint
 * (`host`/`port` in pg's config are ignored). Works with `ssl` (pg upgrades the stream with
 * `tls.connect({ socket })`).
 */
export function pgStream(balancer: unknown, options?: ConnectOptions): () => Duplex {
  const host = netHost(balancer)
  const resolved = resolveConnect(options)
  return () => new BalancedStream(host, resolved)
}

/**
 * mysql2's `stream` option: `mysql.createPool({ stream: mysql2Stream(balancer) })`. mysql2 does
 * not connect the stream itself, so it starts connecting at once; the server's greeting flows
 * when the balanced connection is up.
 */
export function mysql2Stream(balancer: unknown, options?: ConnectOptions): () => Duplex {
  const host = netHost(balancer)
  const resolved = resolveConnect(options)
  return () => new BalancedStream(host, resolved).connect()
}

/** The part of ioredis' `AbstractConnector` that ioredis calls (`ioredis/built/connectors`). */
export interface IoredisConnector {
  connecting: boolean
  firstError?: Error
  check(info: unknown): boolean
  connect(errorEmitter: (type: string, error: Error) => void): Promise<Duplex>
  disconnect(): void
}

/** ioredis' `Connector` option: a class it instantiates with its options. */
export type IoredisConnectorConstructor = new (options: unknown) => IoredisConnector

/**
 * ioredis' `Connector` option: `new Redis({ Connector: ioredisConnector(balancer), lazyConnect })`.
 * Each (re)connection of the client is a `connect(balancer)`, so a client whose replica dies
 * reconnects to another one through its own `retryStrategy`. `disconnect()` ends the socket and
 * destroys it after ioredis' `disconnectTimeout`, as ioredis' own connectors do.
 */
export function ioredisConnector(balancer: unknown, options?: ConnectOptions): IoredisConnectorConstructor {
  netHost(balancer)
  resolveConnect(options)
  return class KeelConnector implements IoredisConnector {
    connecting = false
    firstError?: Error
    #stream: Duplex | undefined
    readonly #disconnectTimeout: number

    constructor(redisOptions: unknown) {
      const timeout = (redisOptions as { disconnectTimeout?: unknown } | undefined)?.disconnectTimeout
      this.#disconnectTimeout = typeof timeout === 'number' ? timeout : 2_000
    }

    check(): boolean {
      return true
    }

    async connect(): Promise<Duplex> {
      this.connecting = true
      try {
        const socket = await connect(balancer, options)
        if (!this.connecting) {
          // disconnect() was called while connecting.
          socket.destroy()
          throw new Error('Connection is closed.')
        }
        this.#stream = socket
        return socket
      } catch (error) {
        this.firstError ??= error as Error
        throw error
      } finally {
        this.connecting = false
      }
    }

    disconnect(): void {
      this.connecting = false
      const stream = this.#stream
      if (stream === undefined) return
      const timer = setTimeout(() => stream.destroy(), this.#disconnectTimeout)
      timer.unref()
      stream.once('close', () => clearTimeout(timer))
      stream.end()
    }
  }
}
