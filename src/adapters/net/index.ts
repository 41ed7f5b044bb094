// Entry point `keel/net`: balanced TCP/TLS connections (least-connections with `least-request`),
// a TCP proxy, and socket factories for pg, mysql2 and ioredis. Imports none of those clients.
export { BalancedStream } from './balanced-stream.ts'
export { connect } from './connect.ts'
export { ConnectTimeoutError } from './errors.ts'
export type { IoredisConnector, IoredisConnectorConstructor } from './factories.ts'
export { ioredisConnector, mysql2Stream, pgStream } from './factories.ts'
export type { ConnectOptions, NetTlsOptions } from './options.ts'
export type { ProxyOptions } from './proxy.ts'
export { createProxy } from './proxy.ts'
