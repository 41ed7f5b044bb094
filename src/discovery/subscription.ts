import type { BalancerPort } from '../core/ports.ts'
import { typeError } from '../internal/validate.ts'
import type { EndpointInfo, EndpointInput } from '../model/endpoint.ts'
import { DiscoveryError } from '../model/errors.ts'
import type { Discovery, DiscoveryUpdate } from './discovery.ts'

/**
 * The least time between two `refresh()` requests the balancer sends a source, in ms: a storm of
 * calls finding nothing eligible asks once, not once per call. Sources may throttle further
 * (`dnsDiscovery` never resolves more often than its `minInterval`).
 */
export const REFRESH_INTERVAL_MS = 1_000

/** What the balancer does with a source's answers. */
export interface SubscriptionHooks {
  /** Parses and checks a snapshot (throws naming `discovery[i]`). */
  parse(inputs: readonly EndpointInput[]): EndpointInfo[]
  /** Applies a snapshot to the endpoint set. */
  apply(infos: readonly EndpointInfo[]): void
  /** A snapshot was applied. */
  applied(): void
  /** An empty answer is applied (`allowEmpty`), not reported as an error. */
  readonly allowEmpty: boolean
  /** An answer was an error, or unusable: the last set stays. */
  failed(error: unknown): void
}

/** What a discovery subscription needs from the balancer. */
export interface DiscoveryHost extends Pick<BalancerPort, 'clock' | 'emit'> {
  /** Set to the source's refresh: the endpoint set asks it when nothing is eligible. */
  refresh: (() => void) | undefined
  readonly phase: 'open' | 'closing' | 'closed'
}

/**
 * A balancer's subscription to its `discovery` source: applies each snapshot to the endpoint set
 * (`EndpointSet.apply` diffs it), turns errors and empty answers into `discoveryError` while
 * keeping the last set, and forwards the set's refresh requests to the source, throttled.
 */
export class DiscoverySubscription {
  readonly #core: DiscoveryHost
  readonly #discovery: Discovery
  readonly #hooks: SubscriptionHooks
  #dispose: (() => void) | undefined
  #stopped = false
  #lastRefresh = Number.NEGATIVE_INFINITY
  #refreshQueued = false

  constructor(core: DiscoveryHost, discovery: Discovery, hooks: SubscriptionHooks) {
    this.#core = core
    this.#discovery = discovery
    this.#hooks = hooks
    if (typeof discovery.refresh === 'function') core.refresh = () => this.#requestRefresh()
  }

  /** Starts watching (the source may answer synchronously, from inside this call). */
  start(): void {
    const dispose = this.#discovery.watch((update) => this.#onUpdate(update))
    if (typeof dispose !== 'function') {
      throw typeError('discovery.watch', 'a function returning a dispose function', dispose)
    }
    if (this.#stopped) dispose()
    else this.#dispose = dispose
  }

  /** Stops watching; later answers are ignored. A dispose that throws is reported, not thrown. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#core.refresh = undefined
    const dispose = this.#dispose
    this.#dispose = undefined
    if (dispose === undefined) return
    try {
      dispose()
    } catch (error) {
      this.#core.emit('discoveryError', { error })
    }
  }

  #onUpdate(update: DiscoveryUpdate): void {
    const core = this.#core
    if (this.#stopped || core.phase !== 'open') return
    if (
      typeof update !== 'object' ||
      update === null ||
      (update.error === undefined && !Array.isArray(update.endpoints))
    ) {
      this.#fail(
        update?.error ?? new DiscoveryError('Discovery delivered an update with neither `endpoints` nor `error`'),
      )
      return
    }
    if (update.error !== undefined) {
      this.#fail(update.error)
      return
    }
    let infos: EndpointInfo[]
    try {
      infos = this.#hooks.parse(update.endpoints!)
    } catch (error) {
      this.#fail(error)
      return
    }
    if (infos.length === 0 && !this.#hooks.allowEmpty) {
      this.#fail(new DiscoveryError('Discovery returned no endpoints; keeping the last set (allowEmpty is false)'))
      return
    }
    this.#hooks.apply(infos)
    this.#hooks.applied()
  }

  #fail(error: unknown): void {
    this.#hooks.failed(error)
    this.#core.emit('discoveryError', { error })
  }

  /**
   * Called by the endpoint set when nothing is eligible, possibly from inside a pick: throttled,
   * and deferred to a microtask so a source that answers synchronously never changes the set
   * under a pick in progress.
   */
  #requestRefresh(): void {
    const now = this.#core.clock.now()
    if (this.#refreshQueued || now - this.#lastRefresh < REFRESH_INTERVAL_MS) return
    this.#lastRefresh = now
    this.#refreshQueued = true
    queueMicrotask(() => {
      this.#refreshQueued = false
      if (this.#stopped) return
      try {
        this.#discovery.refresh!()
      } catch (error) {
        this.#core.emit('discoveryError', { error })
      }
    })
  }
}
