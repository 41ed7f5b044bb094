/**
 * keel/redis: shared health across balancer instances over Redis pub/sub. The only module of
 * keel, with `transport.ts`, that imports ioredis (an optional peer).
 *
 * @module keel/redis
 */
import { addOnPort } from '../../core/port-access.ts'
import type { AddOnPort } from '../../core/ports.ts'
import { resolveSharedHealth, type SharedHealthOptions } from './options.ts'
import { SharedHealth } from './shared-health.ts'
import { RedisTransport } from './transport.ts'

export type { SharedHealthErrorEvent } from '../../model/events.ts'
export type { SharedHealthOptions } from './options.ts'
export {
  SHARED_HEALTH_DROPPED,
  SHARED_HEALTH_ERROR,
  SHARED_HEALTH_PARTITIONED,
} from './shared-health.ts'

/** A running shared health: `close()` stops it early; the balancer's `close()` stops it too. */
export interface SharedHealthHandle {
  /** This instance's id on the channel. */
  readonly instanceId: string
  /** Resolves once this instance listens on the channel (stays pending while Redis is unreachable). */
  readonly subscribed: Promise<void>
  /** Unsubscribes, stops publishing and lifts the ejections shared health made here. */
  close(): Promise<void>
}

/** What `redisSharedHealth` returns: the `sharedHealth` balancer option (or attach it yourself). */
export interface SharedHealthAddOn {
  /** Starts sharing for `balancer` (the balancer calls it when given as `sharedHealth`). */
  attach(balancer: object): SharedHealthHandle
}

/**
 * Shared health over Redis for every balancer of a service (docs/shared-health.md), as the
 * balancer option `sharedHealth`:
 *
 * ```ts
 * const balancer = new Balancer({ endpoints, sharedHealth: redisSharedHealth({ url, service: 'users' }) })
 * ```
 *
 * Options are validated now; the balancer attaches it (connects, subscribes) at the end of its
 * constructor and stops it in `close()`. Importing `keel` never loads Redis.
 */
export function redisSharedHealth(options: SharedHealthOptions): SharedHealthAddOn {
  const resolved = resolveSharedHealth(options)
  return {
    attach(balancer: object): SharedHealthHandle {
      const port: AddOnPort = addOnPort(balancer)
      return new SharedHealth(port, resolved, new RedisTransport(resolved, port.random))
    },
  }
}

/**
 * `redisSharedHealth(options).attach(balancer)`: shared health for a balancer built without the
 * `sharedHealth` option, with a handle on it.
 */
export function attachSharedHealth(balancer: object, options: SharedHealthOptions): SharedHealthHandle {
  return redisSharedHealth(options).attach(balancer)
}
