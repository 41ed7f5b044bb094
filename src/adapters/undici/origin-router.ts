import { Agent, Dispatcher, errors, type Pool } from 'undici'
import { Balancer } from '../../balancer.ts'
import { isPlainObject, typeError } from '../../internal/validate.ts'
import { withDefaultHeader } from '../http/headers.ts'

/**
 * A mapped origin's target: a balancer (the router makes a `BalancerDispatcher` over it) or a
 * dispatcher of yours (a `BalancerDispatcher` with Pool options of its own, or any undici one).
 */
export type OriginTarget = Balancer<unknown> | Dispatcher

/** Makes the dispatcher of a mapped balancer: a `BalancerDispatcher`. */
export type BalancedDispatcherFactory = (balancer: Balancer<unknown>, pool: Pool.Options | undefined) => Dispatcher

/** Options of an `OriginRouter`. */
export interface OriginRouterOptions {
  /**
   * Where requests for every origin not in the map go. The router closes it only when it made it.
   * @default a new undici `Agent()` (what undici's global dispatcher is)
   */
  readonly fallback?: Dispatcher
  /**
   * undici `Pool` options for the `BalancerDispatcher` the router makes for each mapped balancer.
   * @default {} (undici's defaults)
   */
  readonly pool?: Pool.Options
}

const OPTION_KEYS = new Set(['fallback', 'pool'])

/** A mapped origin: its dispatcher, and the `Host` its requests keep (`users.internal:8080`). */
interface Route {
  readonly dispatcher: Dispatcher
  readonly host: string
}

/** Origins remembered as not mapped (a cache of `new URL(origin).origin` lookups), at most. */
const MISS_CACHE_LIMIT = 1024

/** `scheme://host[:port]` of a route key; rejects anything with a path, query or credentials. */
function routeOrigin(key: string): string {
  let url: URL | undefined
  try {
    url = new URL(key)
  } catch {}
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== '' ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    throw typeError(`routes['${key}']`, 'keyed by an origin such as http://users.internal', key)
  }
  return url.origin
}

/**
 * The routing of `OriginRouter` (`keel/undici`), which gives it the `BalancerDispatcher` factory:
 * requests for a mapped origin go to that origin's dispatcher, every other request to the
 * fallback, untouched.
 */
export class OriginDispatcher extends Dispatcher {
  readonly #routes = new Map<string, Route>()
  /** Raw `origin` strings seen that are not mapped (after normalising them). */
  readonly #misses = new Set<string>()
  readonly #fallback: Dispatcher
  /** Dispatchers this router made, and so closes. */
  readonly #owned: Dispatcher[] = []
  #closed = false
  #destroyed = false

  constructor(
    routes: Readonly<Record<string, OriginTarget>>,
    options: OriginRouterOptions,
    balanced: BalancedDispatcherFactory,
  ) {
    super()
    if (!isPlainObject(routes))
      throw typeError('routes', "an object such as { 'http://users.internal': balancer }", routes)
    const { fallback, pool } = options
    if (!isPlainObject(options)) throw typeError('options', 'an object', options)
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw typeError(key, 'one of fallback, pool (an unknown option)', options[key])
    }
    if (fallback !== undefined && typeof (fallback as { dispatch?: unknown })?.dispatch !== 'function') {
      throw typeError('fallback', 'an undici Dispatcher', fallback)
    }
    for (const [key, target] of Object.entries(routes)) {
      const origin = routeOrigin(key)
      if (this.#routes.has(origin)) throw typeError(`routes['${key}']`, `an origin not already mapped (${origin})`, key)
      const dispatcher = this.#dispatcherFor(key, target, pool, balanced)
      this.#routes.set(origin, { dispatcher, host: new URL(origin).host })
    }
    this.#fallback = fallback ?? this.#own(new Agent())
  }

  get closed(): boolean {
    return this.#closed
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      const error = this.#destroyed ? new errors.ClientDestroyedError() : new errors.ClientClosedError()
      if (typeof handler?.onResponseError !== 'function') throw error
      handler.onResponseError(null as unknown as Dispatcher.DispatchController, error)
      return false
    }
    const route = this.#route(opts?.origin)
    if (route === undefined) return this.#fallback.dispatch(opts, handler)
    // The Host the caller would have sent without the router: the mapped origin's authority.
    const headers = withDefaultHeader(opts.headers, 'host', route.host) as NonNullable<
      Dispatcher.DispatchOptions['headers']
    >
    return route.dispatcher.dispatch({ ...opts, headers }, handler)
  }

  /** Stops taking requests, waits for those in flight, closes the dispatchers it made. */
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true
    const done = Promise.all(this.#owned.map((d) => d.close())).then(() => {})
    if (callback === undefined) return done
    done.then(callback, callback)
    return undefined
  }

  /** Aborts what is in flight on the dispatchers it made and destroys them. */
  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(error?: Error | null | (() => void), callback?: () => void): Promise<void> | undefined {
    if (typeof error === 'function') {
      callback = error
      error = null
    }
    this.#closed = true
    this.#destroyed = true
    const done = Promise.all(this.#owned.map((d) => d.destroy(error ?? null))).then(() => {})
    if (callback === undefined) return done
    done.then(callback, callback)
    return undefined
  }

  /** The route of a request's origin; undefined for the fallback. */
  #route(origin: unknown): Route | undefined {
    const raw = typeof origin === 'string' ? origin : origin instanceof URL ? origin.origin : undefined
    if (raw === undefined) return undefined
    const exact = this.#routes.get(raw)
    if (exact !== undefined) return exact
    if (this.#misses.has(raw)) return undefined
    let normal: string | undefined
    try {
      normal = new URL(raw).origin
    } catch {}
    const mapped = normal === undefined ? undefined : this.#routes.get(normal)
    if (mapped !== undefined) return mapped
    if (this.#misses.size >= MISS_CACHE_LIMIT) this.#misses.clear()
    this.#misses.add(raw)
    return undefined
  }

  #dispatcherFor(
    key: string,
    target: unknown,
    pool: Pool.Options | undefined,
    balanced: BalancedDispatcherFactory,
  ): Dispatcher {
    if (Balancer.isBalancer(target)) return this.#own(balanced(target, pool))
    if (typeof (target as { dispatch?: unknown } | null)?.dispatch === 'function') return target as Dispatcher
    throw typeError(`routes['${key}']`, 'a keel Balancer or an undici Dispatcher', target)
  }

  #own<D extends Dispatcher>(dispatcher: D): D {
    this.#owned.push(dispatcher)
    return dispatcher
  }
}
