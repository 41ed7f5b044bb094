import type { Duplex } from 'node:stream'
import { BalancedStream } from './balanced-stream.ts'
import { netHost } from './host.ts'
import { type ConnectOptions, resolveConnect } from './options.ts'

/**
 * node-postgres' `stream` option: `new pg.Pool({ stream: pgStream(balancer) })`. pg calls the
 * function for each new connection and then `stream.connect(port, host)`; keel picks the endpoint
 * (`host`/`port` in pg's config are ignored). pg's `ssl` upgrades this stream with
 * `tls.connect({ socket })` as it does its own socket.
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
