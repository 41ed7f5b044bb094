// Entry point `keel/ioredis`: ioredis' `Connector` option, so each connection an ioredis client
// makes is balanced by keel. The only module of keel that imports ioredis (an optional peer).
import type { Socket } from 'node:net'
import { AbstractConnector, type RedisOptions } from 'ioredis'
import { connect } from './connect.ts'
import { netHost } from './host.ts'
import { type ConnectOptions, resolveConnect } from './options.ts'

/** What ioredis' `Connector` option takes: a class it instantiates with the client's options. */
export type IoredisConnectorClass = NonNullable<RedisOptions['Connector']>

/**
 * ioredis' `Connector` option: `new Redis({ Connector: ioredisConnector(balancer) })`. Every
 * (re)connection of the client is a `connect(balancer, options)`: a client whose server dies
 * reconnects, through its own `retryStrategy`, to an endpoint keel picks (the dead one is
 * refused, ejected and skipped). The client's `host`/`port` are ignored; its `tls` option is not
 * read: pass `tls` here. `disconnect()` is ioredis' own (end, then destroy after its
 * `disconnectTimeout`).
 */
export function ioredisConnector(balancer: unknown, options?: ConnectOptions): IoredisConnectorClass {
  netHost(balancer)
  resolveConnect(options)
  return class KeelConnector extends AbstractConnector {
    constructor(redisOptions: unknown) {
      const timeout = (redisOptions as { disconnectTimeout?: unknown } | undefined)?.disconnectTimeout
      super(typeof timeout === 'number' ? timeout : 2_000)
    }

    async connect(): Promise<Socket> {
      this.connecting = true
      let socket: Socket
      try {
        socket = await connect(balancer, options)
      } catch (error) {
        this.connecting = false
        this.firstError ??= error as Error
        throw error
      }
      if (!this.connecting) {
        // disconnect() was called while the connection was being made.
        socket.destroy()
        throw new Error('Connection is closed.')
      }
      this.stream = socket
      return socket
    }
  }
}
