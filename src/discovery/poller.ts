import type { Clock, TimerHandle } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import { typeError } from '../internal/validate.ts'
import type { EndpointInput } from '../model/endpoint.ts'
import type { Discovery, DiscoveryUpdate } from './discovery.ts'

/** One successful lookup: the endpoints, and how long the answer may be cached. */
export interface PollAnswer {
  readonly endpoints: readonly EndpointInput[]
  /** The answer's time to live in ms; `undefined` when unknown (then `maxInterval` applies). */
  readonly ttlMs: number | undefined
}

export interface PollerOptions {
  /** The least time between the starts of two lookups, in ms. */
  readonly minInterval: number
  /** The most time between two lookups (answers without a TTL, the top of the error backoff), in ms. */
  readonly maxInterval: number
  readonly clock: Clock
  readonly random: Random
  /** Runs one lookup. */
  lookup(): Promise<PollAnswer>
  /** Aborts lookups in flight (every watcher left). */
  cancel?(): void
}

type Listener = (update: DiscoveryUpdate) => void

/**
 * The schedule of a polled source (DNS): a lookup when the first watcher arrives, then the next
 * one when the answer's TTL runs out, clamped to [minInterval, maxInterval]; after an error or an
 * empty answer, exponential backoff from minInterval doubling to maxInterval with equal jitter
 * (half fixed, half random), so a fleet that lost its DNS server does not retry in step.
 * `refresh()` moves the next lookup up to `minInterval` after the last one started, never
 * sooner, and does not cut an error backoff short. Timers are the clock's background (unref'd)
 * ones; the last watcher leaving stops them and cancels lookups in flight.
 */
export class Poller implements Discovery {
  readonly #options: PollerOptions
  readonly #listeners = new Set<Listener>()
  #lastGood: readonly EndpointInput[] | undefined
  #timer: TimerHandle | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #running = false
  #lastStart = Number.NEGATIVE_INFINITY
  #failures = 0
  /** Bumped when polling stops, so a lookup that was in flight delivers nothing. */
  #generation = 0

  constructor(options: PollerOptions) {
    this.#options = options
  }

  watch(listener: Listener): () => void {
    if (typeof listener !== 'function') throw typeError('listener', 'a function', listener)
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) {
      void this.#run()
    } else if (this.#lastGood !== undefined) {
      // A second watcher (another balancer on the same source) gets the last good set now.
      const endpoints = this.#lastGood
      queueMicrotask(() => {
        if (this.#listeners.has(listener)) listener({ endpoints })
      })
    }
    let disposed = false
    return () => {
      if (disposed) return
      disposed = true
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#stop()
    }
  }

  refresh(): void {
    if (this.#listeners.size === 0 || this.#running || this.#failures > 0) return
    const at = Math.max(this.#options.clock.now(), this.#lastStart + this.#options.minInterval)
    if (at < this.#timerAt) this.#schedule(at)
  }

  async #run(): Promise<void> {
    this.#clearTimer()
    const { clock, lookup } = this.#options
    const generation = this.#generation
    this.#running = true
    this.#lastStart = clock.now()
    let answer: PollAnswer | undefined
    let error: unknown
    try {
      answer = await lookup()
    } catch (caught) {
      error = caught ?? new Error('lookup failed')
    }
    if (generation !== this.#generation) return
    this.#running = false
    const now = clock.now()
    if (answer === undefined) {
      this.#failures++
      this.#deliver({ error })
      this.#schedule(now + this.#backoff())
    } else if (answer.endpoints.length === 0) {
      // An empty answer is a failure for scheduling: the balancer decides (allowEmpty) what it means.
      this.#failures++
      this.#deliver({ endpoints: answer.endpoints })
      this.#schedule(now + this.#backoff())
    } else {
      this.#failures = 0
      this.#lastGood = answer.endpoints
      this.#deliver({ endpoints: answer.endpoints })
      const { minInterval, maxInterval } = this.#options
      const ttl = answer.ttlMs ?? maxInterval
      this.#schedule(now + Math.min(maxInterval, Math.max(minInterval, ttl)))
    }
  }

  /** Equal jitter over an exponential step: [step / 2, step], never under minInterval. */
  #backoff(): number {
    const { minInterval, maxInterval, random } = this.#options
    const step = Math.min(maxInterval, minInterval * 2 ** Math.min(this.#failures - 1, 30))
    return Math.max(minInterval, step / 2 + (random() * step) / 2)
  }

  #deliver(update: DiscoveryUpdate): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(update)
      } catch (error) {
        // A listener that throws must not stop the schedule; surface it like an emitter would.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  #schedule(at: number): void {
    if (this.#listeners.size === 0) return
    this.#clearTimer()
    const { clock } = this.#options
    this.#timerAt = at
    this.#timer = clock.setTimeout(
      () => {
        this.#timer = undefined
        this.#timerAt = Number.POSITIVE_INFINITY
        void this.#run()
      },
      Math.max(0, at - clock.now()),
    )
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }

  #stop(): void {
    this.#generation++
    this.#clearTimer()
    if (this.#running) {
      this.#running = false
      this.#options.cancel?.()
    }
    this.#failures = 0
    this.#lastStart = Number.NEGATIVE_INFINITY
  }
}
