/**
 * Entry point `keel/net`: balanced TCP/TLS connections (least-connections with `least-request`), a
 * TCP proxy, and stream factories for pg and mysql2 (imports neither; ioredis: `keel/ioredis`).
 *
 * @module keel/net
 */
export { BalancedStream } from './balanced-stream.ts'
export { connect } from './connect.ts'
export { ConnectTimeoutError, ProxyIdleTimeoutError } from './errors.ts'
export { mysql2Stream, pgStream } from './factories.ts'
export type { ConnectOptions, NetTlsOptions } from './options.ts'
export type { ProxyOptions } from './proxy.ts'
export { createProxy } from './proxy.ts'
