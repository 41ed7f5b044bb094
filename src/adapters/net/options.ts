import type { ConnectionOptions } from 'node:tls'
import { isAbortSignal } from '../../internal/abort.ts'
import { checkNumber, isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'

/** TLS settings of `connect()`: `node:tls` options without the address (keel picks it). */
export type NetTlsOptions = Omit<ConnectionOptions, 'host' | 'port' | 'path' | 'socket'>

/** Options of `connect()` and of everything built on it. */
export interface ConnectOptions {
  /**
   * Aborting it fails a pending `connect()` with the signal's reason, and destroys the socket
   * once connected (as `net.connect`'s `signal` does). @default undefined (none)
   */
  readonly signal?: AbortSignal
  /**
   * ms allowed for each connection attempt (TCP connect, plus the TLS handshake with `tls`). An
   * attempt that takes longer is `not-sent` and `connect()` fails over to another endpoint, like
   * HAProxy's `timeout connect` with `retries` and Envoy's cluster `connect_timeout`.
   * @default 5_000 (Envoy's `connect_timeout`)
   */
  readonly timeout?: number
  /**
   * `true`, or `node:tls` options (`ca`, `cert`, `key`, `rejectUnauthorized`…), to connect over
   * TLS. The handshake uses the endpoint's `servername` (or the balancer's), else the host when it
   * is a name (an IP sends no SNI). @default false
   */
  readonly tls?: boolean | NetTlsOptions
  /** Routes the connection by this key with a hash picker (`ring-hash`, `maglev`). @default undefined */
  readonly key?: string | Uint8Array
  /** `socket.setNoDelay()`: Nagle off, what database and cache protocols want. @default true */
  readonly noDelay?: boolean
  /**
   * Keep the socket writable after the server ended its side (`net.connect`'s option, for
   * protocols that half-close). @default false
   */
  readonly allowHalfOpen?: boolean
}

export interface ResolvedConnect {
  readonly signal: AbortSignal | undefined
  readonly timeout: number
  readonly tls: NetTlsOptions | undefined
  readonly key: string | Uint8Array | undefined
  readonly noDelay: boolean
  readonly allowHalfOpen: boolean
}

const KEYS = ['signal', 'timeout', 'tls', 'key', 'noDelay', 'allowHalfOpen'] as const
const MAX_TIMER = 2_147_483_647
export const DEFAULT_CONNECT: ResolvedConnect = Object.freeze({
  signal: undefined,
  timeout: 5_000,
  tls: undefined,
  key: undefined,
  noDelay: true,
  allowHalfOpen: false,
})

/** Validates `connect()`'s options; `prefix` names where they came from in messages (`'connect'`). */
export function resolveConnect(value: unknown, prefix = ''): ResolvedConnect {
  if (value === undefined) return DEFAULT_CONNECT
  if (!isPlainObject(value)) throw typeError(prefix === '' ? 'options' : prefix, 'an object', value)
  rejectUnknownKeys(prefix, value, KEYS)
  const at = (key: string) => (prefix === '' ? key : `${prefix}.${key}`)
  const { signal, tls, key, noDelay, allowHalfOpen } = value
  if (signal !== undefined && !isAbortSignal(signal)) throw typeError(at('signal'), 'an AbortSignal', signal)
  let tlsOptions: NetTlsOptions | undefined
  if (tls === true) tlsOptions = {}
  else if (isPlainObject(tls)) tlsOptions = tls as NetTlsOptions
  else if (tls !== undefined && tls !== false) throw typeError(at('tls'), 'a boolean or tls options', tls)
  if (key !== undefined && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw typeError(at('key'), 'a string or a Uint8Array', key)
  }
  if (noDelay !== undefined && typeof noDelay !== 'boolean') throw typeError(at('noDelay'), 'a boolean', noDelay)
  if (allowHalfOpen !== undefined && typeof allowHalfOpen !== 'boolean') {
    throw typeError(at('allowHalfOpen'), 'a boolean', allowHalfOpen)
  }
  return Object.freeze({
    signal: signal as AbortSignal | undefined,
    timeout: checkNumber(at('timeout'), value.timeout, { min: 1, max: MAX_TIMER }) ?? DEFAULT_CONNECT.timeout,
    tls: tlsOptions,
    key: key as string | Uint8Array | undefined,
    noDelay: noDelay ?? true,
    allowHalfOpen: allowHalfOpen ?? false,
  })
}
