import type { ConnectionOptions } from 'node:tls'
import type { Redis } from 'ioredis'
import { isPlainObject, rejectUnknownKeys, requireNumber, typeError } from '../../internal/validate.ts'

/** Options of `redisSharedHealth` (`keel/redis`). */
export interface SharedHealthOptions {
  /** Redis URL (`redis://` or `rediss://`, credentials allowed). One of `url` or `client`. */
  url?: string
  /**
   * An ioredis client whose connection settings (host, credentials, TLS) keel reuses: keel opens
   * two `duplicate()`s of it (one publishes, one subscribes) with its own fail-fast settings, and
   * closes them; your client itself is never used nor quit.
   */
  client?: Redis
  /** Redis ACL user (with `url`). */
  username?: string
  /** Redis ACL password (with `url`). */
  password?: string
  /** TLS options for the Redis connection (with `url`), as `tls.connect` takes them. */
  tls?: ConnectionOptions
  /** The service's name: one channel and one key prefix per service (`keel:health:<service>`). */
  service: string
  /**
   * Distinct instances that must have ejected an endpoint within `window` (or each seen it fail
   * over `failureThreshold`) before this instance treats it as suspect. At least 2: a lone
   * instance never ejects anything for the others.
   * @default 2
   */
  quorum?: number
  /**
   * How long (ms) an observation counts, and how long its key lives in Redis.
   * @default 30000
   */
  window?: number
  /**
   * This instance's id on the channel.
   * @default a random id
   */
  instanceId?: string
  /**
   * How often (ms) this instance publishes its per-endpoint counts and refreshes its ejections.
   * @default 5000
   */
  reportInterval?: number
  /**
   * Failure percentage at which the fleet's pooled counts make an endpoint suspect (as
   * `outlierDetection.failurePercentage.threshold`, Envoy's `failure_percentage_threshold`).
   * @default 85
   */
  failureThreshold?: number
  /**
   * Attempts an instance must have reported within `window` for its counts to count (as
   * `outlierDetection.failurePercentage.requestVolume`).
   * @default 50
   */
  requestVolume?: number
  /**
   * Largest message accepted or sent, in bytes.
   * @default 16384
   */
  maxMessageBytes?: number
  /**
   * Messages accepted per second from the whole channel; more are dropped with a warning.
   * @default 200
   */
  maxMessagesPerSecond?: number
  /**
   * Instances remembered at most; reports from more are dropped.
   * @default 256
   */
  maxInstances?: number
}

export interface ResolvedSharedHealth {
  readonly url: string | undefined
  readonly client: Redis | undefined
  readonly username: string | undefined
  readonly password: string | undefined
  readonly tls: ConnectionOptions | undefined
  readonly service: string
  readonly quorum: number
  readonly window: number
  readonly instanceId: string | undefined
  readonly reportInterval: number
  readonly failureThreshold: number
  readonly requestVolume: number
  readonly maxMessageBytes: number
  readonly maxMessagesPerSecond: number
  readonly maxInstances: number
}

const KEYS = [
  'url',
  'client',
  'username',
  'password',
  'tls',
  'service',
  'quorum',
  'window',
  'instanceId',
  'reportInterval',
  'failureThreshold',
  'requestVolume',
  'maxMessageBytes',
  'maxMessagesPerSecond',
  'maxInstances',
] as const

const NAME = /^[\x21-\x7e]{1,128}$/

export function resolveSharedHealth(options: unknown): ResolvedSharedHealth {
  if (!isPlainObject(options)) throw typeError('sharedHealth', 'an object', options)
  rejectUnknownKeys('', options, KEYS)
  const o = options as unknown as SharedHealthOptions
  if ((o.url === undefined) === (o.client === undefined)) {
    throw typeError('url', 'a Redis URL (or `client`, not both)', o.url)
  }
  if (o.url !== undefined && (typeof o.url !== 'string' || !/^rediss?:\/\//.test(o.url))) {
    throw typeError('url', 'a redis:// or rediss:// URL', o.url)
  }
  if (o.client !== undefined && (typeof o.client !== 'object' || typeof o.client?.duplicate !== 'function')) {
    throw typeError('client', 'an ioredis client', o.client)
  }
  for (const key of ['username', 'password'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw typeError(key, 'a string', '<hidden>')
  }
  if (o.tls !== undefined && (typeof o.tls !== 'object' || o.tls === null)) throw typeError('tls', 'an object', o.tls)
  if (typeof o.service !== 'string' || !NAME.test(o.service)) {
    throw typeError('service', 'a name of 1 to 128 printable characters without spaces', o.service)
  }
  if (o.instanceId !== undefined && (typeof o.instanceId !== 'string' || !NAME.test(o.instanceId))) {
    throw typeError('instanceId', 'an id of 1 to 128 printable characters without spaces', o.instanceId)
  }
  const num = (key: (typeof KEYS)[number], fallback: number, rule: Parameters<typeof requireNumber>[2]) =>
    o[key as keyof SharedHealthOptions] === undefined
      ? fallback
      : requireNumber(key, o[key as keyof SharedHealthOptions], rule)
  return {
    url: o.url,
    client: o.client,
    username: o.username,
    password: o.password,
    tls: o.tls,
    service: o.service,
    instanceId: o.instanceId,
    quorum: num('quorum', 2, { min: 2, integer: true }),
    window: num('window', 30_000, { min: 100, integer: true }),
    reportInterval: num('reportInterval', 5_000, { min: 10, integer: true }),
    failureThreshold: num('failureThreshold', 85, { min: 0, max: 100, minExclusive: true }),
    requestVolume: num('requestVolume', 50, { min: 1, integer: true }),
    maxMessageBytes: num('maxMessageBytes', 16_384, { min: 256, integer: true }),
    maxMessagesPerSecond: num('maxMessagesPerSecond', 200, { min: 1, integer: true }),
    maxInstances: num('maxInstances', 256, { min: 2, integer: true }),
  }
}
