import { EventEmitter } from 'node:events'
import CircuitBreaker from 'opossum'
import type {
  AttemptObserver,
  BalancerPort,
  EndedAttempt,
  EndpointState,
  MemberObserver,
  TimerEntry,
} from '../core/ports.ts'
import type { Verdict } from '../model/verdict.ts'
import type { ResolvedBreaker } from './breaker-options.ts'

/** What the breaker detector needs from the balancer. */
export type BreakerHost = Pick<BalancerPort, 'ejection' | 'clock' | 'timers' | 'invalidate' | 'emit'>

interface EndpointBreaker {
  breaker: CircuitBreaker
  /** The rotate controller its window listens to. */
  shard: EventEmitter
  halfOpenEntry: TimerEntry | undefined
  /** Clock time the current breaker was made: attempts started before it do not count in it. */
  createdAt: number
  /** Successes of the closed breaker not yet in opossum's current bucket (`#count`). */
  passed: number
}

const noop = () => {}
/** Breakers per rotate controller. */
const SHARD_SIZE = 256
/** Longest timer Node can hold (≈24.8 days). */
const MAX_TIMER = 2 ** 31 - 1

/**
 * One opossum `CircuitBreaker` per endpoint, driven from the attempt's `finally` instead of
 * `fire()` (docs/circuit-breakers.md): keel owns timeouts and rejections, so each attempt's verdict is fed to
 * opossum as its documented `fire` / `success` / `failure` events, which update opossum's own
 * rolling window; after a failure keel applies opossum's opening rule (failures / fires strictly
 * above `errorThresholdPercentage` once fires ≥ `volumeThreshold`, or any failure while half-open)
 * and calls `open()`. `test/detectors/breaker-contract.test.ts` pins this against `fire()`.
 *
 * What opossum needs at scale: shared `node:events` rotate controllers driven by one timer (an
 * eventemitter3 one rotates only the first breaker; see `#shard()` for why there are several), no snapshots, no percentiles, no opossum timeout. Opossum never
 * resets its stats, so a breaker that closes is replaced by a fresh one; the half-open transition
 * runs on keel's clock by replacing the open breaker with one restored in half-open state
 * (opossum's documented `state` option), so tests drive it with the injected clock.
 */
export class BreakerDetector implements AttemptObserver, MemberObserver {
  readonly #options: ResolvedBreaker
  readonly #host: BreakerHost
  /** Rotate controllers, each serving at most SHARD_SIZE breakers (see `#shard()`). */
  readonly #shards: EventEmitter[] = []
  readonly #bucketMs: number
  /** Every attached breaker, for the rotate tick's `#count`. */
  readonly #records = new Set<EndpointBreaker>()
  #rotateEntry: TimerEntry | undefined
  #closed = false

  constructor(options: ResolvedBreaker, host: BreakerHost) {
    this.#options = options
    this.#host = host
    this.#bucketMs = options.rollingCountTimeout / options.rollingCountBuckets
    this.#scheduleRotate()
  }

  /** Gives `state` a closed breaker. */
  attach(state: EndpointState): void {
    const shard = this.#shard()
    const record: EndpointBreaker = {
      breaker: this.#create(state, 'closed', shard),
      shard,
      halfOpenEntry: undefined,
      createdAt: this.#host.clock.now(),
      passed: 0,
    }
    state.breaker = record
    state.breakerPhase = 'closed'
    this.#records.add(record)
  }

  /** Shuts `state`'s breaker down (its endpoint finished draining). */
  detach(state: EndpointState): void {
    const record = state.breaker as EndpointBreaker | undefined
    if (record === undefined) return
    if (record.halfOpenEntry !== undefined) this.#host.timers.cancel(record.halfOpenEntry)
    record.breaker.shutdown()
    this.#records.delete(record)
    state.breaker = undefined
  }

  /** The attempt observer: after the load estimate, before outlier detection. */
  attemptEnded(attempt: EndedAttempt): void {
    this.record(attempt.state, attempt.verdict, attempt.durationMs, attempt.trial, attempt.start)
  }

  /**
   * Feeds one attempt's verdict to `state`'s breaker. An attempt that started before the current
   * breaker existed (before it opened, half-opened or closed) does not count in it: only the trial
   * decides a half-open breaker, and a fresh window starts fresh.
   */
  record(state: EndpointState, verdict: Verdict, durationMs: number, trial: boolean, startedAt: number): void {
    const record = state.breaker as EndpointBreaker | undefined
    if (record === undefined) return
    if (
      trial &&
      verdict !== 'success' &&
      verdict !== 'caller-error' &&
      verdict !== 'endpoint-failure' &&
      verdict !== 'not-sent'
    ) {
      // `overloaded` and `cancelled` say nothing about health: the breaker stays half-open for another trial.
      state.trialInFlight = false
      return
    }
    if (startedAt < record.createdAt && !trial) return
    const breaker = record.breaker
    switch (verdict) {
      case 'success':
      case 'caller-error':
        // A success cannot open a closed breaker: it only has to be in the window before anything
        // reads it (the next failure, the bucket's rotation), so it is counted in bulk then. Two
        // emits per attempt took as much time in a profile as keel's whole pick, and opossum would
        // keep every success's latency (10,000 numbers a second at 10,000 req/s) for percentiles
        // keel turns off.
        if (state.breakerPhase === 'closed') {
          record.passed++
          return
        }
        breaker.emit('fire')
        // opossum closes a half-open breaker on success; its 'close' listener replaces it.
        breaker.emit('success', undefined, durationMs)
        return
      case 'endpoint-failure':
      case 'not-sent':
        this.#count(record)
        breaker.emit('fire')
        breaker.emit('failure', undefined, durationMs)
        if (breaker.halfOpen || this.#overThreshold(breaker)) breaker.open()
        return
      default:
        // `overloaded` and `cancelled` say nothing about the endpoint's health.
        return
    }
  }

  /** Stops the rotate timer and shuts every breaker down (the balancer is closing). */
  shutdown(states: Iterable<EndpointState>): void {
    this.#closed = true
    if (this.#rotateEntry !== undefined) this.#host.timers.cancel(this.#rotateEntry)
    for (const state of states) this.detach(state)
  }

  /**
   * Adds the closed breaker's pending successes to opossum's current bucket, as its own `fire` and
   * `success` events would have (`Status.increment`); their latencies are not kept, since keel
   * turns opossum's percentiles off. `status.window` is a copy of opossum's bucket list holding
   * its own bucket objects (index 0 is the current one); `test/detectors/breaker-contract.test.ts`
   * fails if a later opossum stops sharing them.
   */
  #count(record: EndpointBreaker): void {
    const passed = record.passed
    if (passed === 0) return
    record.passed = 0
    const bucket = record.breaker.status.window[0]
    if (bucket === undefined) return
    bucket.fires += passed
    bucket.successes += passed
  }

  /** opossum's opening rule, read from its rolling window (the `stats` getter costs ~10 µs). */
  #overThreshold(breaker: CircuitBreaker): boolean {
    let fires = 0
    let failures = 0
    for (const bucket of breaker.status.window) {
      fires += bucket.fires
      failures += bucket.failures
    }
    if (fires < this.#options.volumeThreshold) return false
    return (failures / fires) * 100 > this.#options.errorThresholdPercentage
  }

  /**
   * A rotate controller with room for one more breaker. opossum finds and removes its listener
   * with `listenerCount(event, listener)` and `removeListener`, both linear in the listeners: on a
   * single controller, 10,000 breakers cost O(n²) to create and to close (~0.5 s each). Shards of
   * 256 keep that linear; one timer still rotates them all.
   */
  #shard(): EventEmitter {
    for (let i = this.#shards.length - 1; i >= 0 && i >= this.#shards.length - 2; i--) {
      const shard = this.#shards[i]!
      if (shard.listenerCount('rotate') < SHARD_SIZE) return shard
    }
    const shard = new EventEmitter()
    shard.setMaxListeners(0)
    this.#shards.push(shard)
    return shard
  }

  #create(state: EndpointState, phase: 'closed' | 'half-open', shard: EventEmitter): CircuitBreaker {
    const o = this.#options
    const breaker = new CircuitBreaker(noop, {
      name: state.id,
      errorThresholdPercentage: o.errorThresholdPercentage,
      volumeThreshold: o.volumeThreshold,
      rollingCountTimeout: o.rollingCountTimeout,
      rollingCountBuckets: o.rollingCountBuckets,
      // keel runs the half-open transition on its own clock; opossum's reset timer must never fire.
      resetTimeout: MAX_TIMER,
      timeout: false,
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      rotateBucketController: shard,
      ...(phase === 'half-open' ? { state: { closed: false, halfOpen: true } } : {}),
    })
    breaker.on('open', () => this.#opened(state, breaker))
    breaker.on('close', () => this.#closedAgain(state, breaker))
    return breaker
  }

  #opened(state: EndpointState, breaker: CircuitBreaker): void {
    const record = state.breaker as EndpointBreaker | undefined
    if (record === undefined || record.breaker !== breaker) return
    state.breakerPhase = 'open'
    state.trialInFlight = false
    record.createdAt = this.#host.clock.now()
    this.#host.ejection.eject(state, 'breaker', 'open')
    this.#host.invalidate()
    this.#host.emit('breakerOpen', { endpoint: state.endpoint })
    if (record.halfOpenEntry !== undefined) this.#host.timers.cancel(record.halfOpenEntry)
    record.halfOpenEntry = this.#host.timers.schedule(this.#host.clock.now() + this.#options.resetTimeout, () =>
      this.#halfOpen(state),
    )
  }

  #halfOpen(state: EndpointState): void {
    const record = state.breaker as EndpointBreaker | undefined
    if (record === undefined || this.#closed) return
    record.halfOpenEntry = undefined
    // Replacing the breaker clears opossum's own reset timer and starts the trial on a clean window.
    record.breaker.shutdown()
    record.breaker = this.#create(state, 'half-open', record.shard)
    record.passed = 0
    record.createdAt = this.#host.clock.now()
    state.breakerPhase = 'half-open'
    state.trialInFlight = false
    this.#host.invalidate()
    this.#host.emit('breakerHalfOpen', { endpoint: state.endpoint })
  }

  #closedAgain(state: EndpointState, breaker: CircuitBreaker): void {
    const record = state.breaker as EndpointBreaker | undefined
    // The constructor's own close() runs before the listener exists; this is a real transition.
    if (record === undefined || record.breaker !== breaker) return
    breaker.shutdown()
    record.breaker = this.#create(state, 'closed', record.shard)
    record.passed = 0
    record.createdAt = this.#host.clock.now()
    state.breakerPhase = 'closed'
    state.trialInFlight = false
    this.#host.ejection.restore(state, 'breaker', 'closed')
    this.#host.invalidate()
    this.#host.emit('breakerClose', { endpoint: state.endpoint })
  }

  #scheduleRotate(): void {
    if (this.#closed) return
    this.#rotateEntry = this.#host.timers.schedule(this.#host.clock.now() + this.#bucketMs, () => {
      for (const record of this.#records) this.#count(record)
      for (const shard of this.#shards) shard.emit('rotate')
      this.#scheduleRotate()
    })
  }
}
