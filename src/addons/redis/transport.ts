// The Redis side of shared health, on ioredis: one connection publishes and keeps the keys, a
// second one subscribes (a subscribed Redis connection can run nothing else). Both fail fast while
// disconnected (no offline queue: a call never waits on Redis and memory stays bounded) and
// reconnect in the background with capped, jittered exponential backoff ("Exponential Backoff And
// Jitter", AWS Architecture Blog, 2015).
import { Redis, type RedisOptions } from 'ioredis'
import type { Random } from '../../internal/random.ts'
import type { ResolvedSharedHealth } from './options.ts'
import type { Transport, TransportHandlers } from './shared-health.ts'

const BACKOFF_BASE = 100
const BACKOFF_CAP = 5_000

export class RedisTransport implements Transport {
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #channel: string
  readonly #prefix: string
  /** Fire-and-forget commands that fail (timeout, disconnected) report here. */
  #onError: (error: unknown) => void = ignore

  constructor(o: ResolvedSharedHealth, random: Random) {
    const common: RedisOptions = {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      commandTimeout: 1_000,
      retryStrategy: (times) =>
        Math.round(Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** Math.min(times, 16)) * random()) + 1,
    }
    if (o.client !== undefined) {
      // Duplicates of the user's client (its host, credentials, TLS) with keel's settings: the
      // user's own client may queue commands while offline, which would grow memory here.
      this.#pub = o.client.duplicate(common as never)
      this.#sub = o.client.duplicate(common as never)
    } else {
      const auth: RedisOptions = {}
      if (o.username !== undefined) auth.username = o.username
      if (o.password !== undefined) auth.password = o.password
      if (o.tls !== undefined) auth.tls = o.tls
      this.#pub = new Redis(o.url!, { ...common, ...auth } as never)
      this.#sub = new Redis(o.url!, { ...common, ...auth } as never)
    }
    this.#channel = `keel:health:${o.service}`
    this.#prefix = `keel:health:${o.service}:`
  }

  publish(text: string): void {
    this.#pub.publish(this.#channel, text).catch(this.#onError)
  }

  setKey(name: string, text: string, ttlMs: number): void {
    this.#pub.set(this.#prefix + name, text, 'PX', ttlMs).catch(this.#onError)
  }

  deleteKey(name: string): void {
    this.#pub.del(this.#prefix + name).catch(this.#onError)
  }

  async readKeys(limit: number): Promise<string[]> {
    const names: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await this.#pub.scan(cursor, 'MATCH', `${escapeGlob(this.#prefix)}*`, 'COUNT', 500)
      cursor = next
      for (const name of batch) if (names.length < limit) names.push(name)
    } while (cursor !== '0' && names.length < limit)
    if (names.length === 0) return []
    const values = await this.#pub.mget(names)
    return values.filter((v): v is string => v !== null)
  }

  start(handlers: TransportHandlers): void {
    this.#onError = (error) => handlers.error(error)
    this.#sub.on('messageBuffer', (_channel: Buffer, raw: Buffer) => handlers.message(raw))
    this.#sub.on('error', handlers.error)
    this.#pub.on('error', handlers.error)
    // ioredis subscribes again by itself after a reconnection (`autoResubscribe`); each `ready` of
    // the subscriber re-reads the keys, so what was missed while disconnected is learnt again.
    this.#sub.on('ready', () => handlers.ready())
    // Without an offline queue, SUBSCRIBE fails while the first connection is not up yet: it is
    // sent once the subscriber is ready (ioredis keeps it across reconnections from then on).
    const subscribe = () => {
      this.#sub.subscribe(this.#channel).then(handlers.subscribed, (error: unknown) => handlers.error(error))
    }
    if (this.#sub.status === 'ready') subscribe()
    else this.#sub.once('ready', subscribe)
  }

  async close(): Promise<void> {
    this.#onError = ignore
    this.#sub.disconnect()
    this.#pub.disconnect()
  }
}

function ignore(): void {}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
