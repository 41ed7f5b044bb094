/**
 * Entry point `keel/undici`: an undici Dispatcher that balances every request over a Balancer.
 *
 * @module keel/undici
 */
import { Dispatcher, errors, Pool } from 'undici'
import { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import { isPlainObject, typeError } from '../../internal/validate.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { callOptionsTable, type RetryPolicies, retryPolicies } from '../http/retry-policy.ts'
import { httpOrigin } from '../http/target.ts'
import { DEFAULT_IDLE_TIMEOUT } from '../http/timeouts.ts'
import { type BalancedDispatchOptions, type DispatchHost, DispatchRun } from './dispatch-run.ts'
import { adaptHandler } from './legacy-handler.ts'
import { OriginDispatcher, type OriginRouterOptions, type OriginTarget } from './origin-router.ts'

export type { BalancedDispatchOptions } from './dispatch-run.ts'
export { DispatchedResponse } from './dispatched-response.ts'
export type { OriginRouterOptions, OriginTarget } from './origin-router.ts'

/**
 * Options of a `BalancerDispatcher`: undici `Pool` options, applied to the Pool of every
 * endpoint (connections, pipelining, timeouts, `connect` TLS options such as `ca`, …). An
 * endpoint's `servername` is added to `connect` for SNI and certificate checks. keel changes two
 * of undici's defaults: `headersTimeout` and `bodyTimeout` are 15 000 ms (undici: 300 000), so a
 * request on a hung or blackholed replica is lost and retried instead of waiting five minutes;
 * set them to 0 for long polls and streams that stay silent longer.
 */
export type BalancerDispatcherOptions = Pool.Options

const POOL_EVENTS = ['connect', 'disconnect', 'connectionError'] as const

/**
 * An undici `Dispatcher` that balances every request over a keel `Balancer`: use it with
 * `request`, `stream`, `pipeline`, `fetch(url, { dispatcher })` or `compose()`. The request's
 * origin is ignored: each attempt goes to the picked endpoint (its path prefix kept), through one
 * undici `Pool` per endpoint, a balancer resource (`'undici.pool'`) closed when the endpoint
 * finishes draining or the balancer closes. An attempt lasts until the response body ends, errors,
 * is aborted or hits the Pool's `bodyTimeout`, so a long download counts as in flight.
 *
 * Retries follow keel's rules (docs/undici.md) and happen only before the caller's handler saw any of
 * the response. Do not compose undici's retry interceptor with it: retries would multiply and
 * bypass the retry budget.
 */
export class BalancerDispatcher extends Dispatcher {
  readonly balancer: Balancer<unknown>
  readonly #host: DispatchHost
  readonly #pools = new Set<Pool>()
  #pending = 0
  #closed = false
  #destroyed = false
  #onIdle: (() => void) | undefined

  constructor(balancer: Balancer<unknown>, options: BalancerDispatcherOptions = {}) {
    super()
    if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
    if (!isPlainObject(options)) throw typeError('options', 'an object of undici Pool options', options)
    const port = adapterPort(balancer)
    this.balancer = balancer
    const pools: ResourceHandle<Dispatcher> = balancer.resource(port.uniqueResourceName('undici.pool'), {
      create: (endpoint) => this.#createPool(endpoint, options),
      close: (pool) => this.#closePool(pool as Pool),
    })
    const policies: RetryPolicies = retryPolicies(port.settings.retry)
    const callOptions = callOptionsTable(policies)
    this.#host = {
      balancer,
      port,
      classifier: port.classifier,
      pools,
      policies,
      callOptions,
      resolvedCalls: callOptions.map((options) => port.resolveCall(options)),
      runEnded: () => {
        if (--this.#pending === 0) this.#onIdle?.()
      },
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  override dispatch(opts: BalancedDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (typeof handler !== 'object' || handler === null) {
      throw new errors.InvalidArgumentError('handler must be an object')
    }
    const target = adaptHandler(handler)
    let error: Error | undefined
    if (typeof opts !== 'object' || opts === null) error = new errors.InvalidArgumentError('opts must be an object.')
    else if (typeof opts.path !== 'string') error = new errors.InvalidArgumentError('path must be a string')
    else if (this.#destroyed) error = new errors.ClientDestroyedError()
    else if (this.#closed) error = new errors.ClientClosedError()
    if (error !== undefined) {
      if (typeof target.onResponseError !== 'function') throw error
      target.onResponseError(null as unknown as Dispatcher.DispatchController, error)
      return false
    }
    this.#pending++
    new DispatchRun(this.#host, opts, target).start()
    return true
  }

  /** Stops taking requests, waits for those in flight, then closes this dispatcher's Pools. */
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    const done = this.#close()
    if (callback === undefined) return done
    done.then(callback, callback)
    return undefined
  }

  /** Aborts every request in flight and destroys this dispatcher's Pools. */
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
    const reason = error ?? new errors.ClientDestroyedError()
    const done = Promise.all([...this.#pools].map((pool) => pool.destroy(reason))).then(() => {})
    if (callback === undefined) return done
    done.then(callback, callback)
    return undefined
  }

  async #close(): Promise<void> {
    this.#closed = true
    if (this.#pending > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve))
    await Promise.all([...this.#pools].map((pool) => this.#closePool(pool)))
  }

  #createPool(endpoint: EndpointInfo, given: BalancerDispatcherOptions): Pool {
    // keel's idle limits instead of undici's 300 s, unless the caller set them (0: none).
    const options: BalancerDispatcherOptions = {
      ...given,
      headersTimeout: given.headersTimeout ?? DEFAULT_IDLE_TIMEOUT,
      bodyTimeout: given.bodyTimeout ?? DEFAULT_IDLE_TIMEOUT,
    }
    const servername = endpoint.servername
    const connect = options.connect
    // A custom connector function is the caller's to configure; TLS options get the name.
    const withName = servername === undefined || typeof connect === 'function' ? connect : { ...connect, servername }
    const pool = new Pool(httpOrigin(endpoint), withName === undefined ? options : { ...options, connect: withName })
    // Forwarded like undici's Agent does, with this dispatcher first among the targets.
    const emitter = pool as unknown as NodeJS.EventEmitter
    for (const event of POOL_EVENTS) {
      emitter.on(event, (origin: URL, targets: readonly Dispatcher[], err?: Error) => {
        ;(this as unknown as NodeJS.EventEmitter).emit(event, origin, [this, ...targets], err)
      })
    }
    this.#pools.add(pool)
    return pool
  }

  #closePool(pool: Pool): Promise<void> | undefined {
    this.#pools.delete(pool)
    if (pool.closed || pool.destroyed) return undefined
    return pool.close()
  }
}

/**
 * An undici `Dispatcher` that balances the requests for the origins you map and passes every
 * other request to a fallback dispatcher untouched: `setGlobalDispatcher(new OriginRouter({
 * 'http://users.internal': users }))` makes Node's global `fetch('http://users.internal/…')`
 * balanced with no other change. A mapped balancer's requests go through a `BalancerDispatcher`
 * (one Pool per endpoint, keel's retries and classification) and keep the origin's `Host`; the
 * origin itself is never dialled.
 */
export class OriginRouter extends OriginDispatcher {
  constructor(routes: Readonly<Record<string, OriginTarget>>, options: OriginRouterOptions = {}) {
    super(routes, options, (balancer, pool) => new BalancerDispatcher(balancer, pool))
  }
}
