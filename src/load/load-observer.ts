import type { AttemptObserver, EndedAttempt, EndpointState } from '../core/ports.ts'
import { LatencyWindow } from './latency-window.ts'
import { failureFloorMs } from './load-reference.ts'

/** What the load estimate needs from the balancer. */
export interface LoadHost {
  members(): IterableIterator<EndpointState>
  tracked(): IterableIterator<EndpointState>
}

/**
 * The first attempt observer: feeds each endpoint's PeakEWMA with the attempt that ended (tower's
 * `PeakEwma`: "the load metric updates itself when the request ends"), and the balancer's recent
 * latencies for `hedge.delay: 'p95'` once a call hedges at it.
 */
export class LoadObserver implements AttemptObserver {
  /**
   * False until the balancer's first successful answer: the endpoints made before it share a
   * guessed latency (30 ms) that says nothing of this service (see `calibrate`).
   */
  calibrated = false
  /** Recent attempt latencies for `hedge.delay: 'p95'`, made on first use. */
  window: LatencyWindow | undefined
  readonly #host: LoadHost

  constructor(host: LoadHost) {
    this.#host = host
  }

  /** The p95 estimator, created the first time a call hedges at `'p95'`. */
  latencyWindow(): LatencyWindow {
    this.window ??= new LatencyWindow()
    return this.window
  }

  attemptEnded(attempt: EndedAttempt, now: number): void {
    const state = attempt.state
    const duration = attempt.durationMs
    const verdict = attempt.verdict
    switch (verdict) {
      case 'success':
        state.load.observe(now, duration)
        if (!this.calibrated) this.calibrate(now, duration)
        break
      case 'caller-error':
        // A stale IP answering instant 404s must not attract traffic: may raise, never lower.
        state.load.raise(now, duration)
        break
      case 'endpoint-failure':
      case 'not-sent':
      // Shedding answers come back fast without doing the work: charged like a failure, so a
      // replica answering instant 429s or `Retry-After: 0` never looks like the fastest.
      case 'overloaded':
        state.load.penalize(now, duration, failureFloorMs(this.#host.members(), state))
        break
      case 'cancelled':
        // A lost hedge, a deadline, an abort: the endpoint took at least this long, so the
        // elapsed time is a lower bound — it may raise the estimate, never lower it (tower's
        // PeakEwma charges a request's time when its handle drops, whatever the outcome). It
        // counts as a slow answer would: a level confirmed by non-overlapping ones raises it.
        if (duration > state.load.read(now)) state.load.observe(now, duration)
        break
      default:
        break
    }
    const window = this.window
    // Answers only: a hedge loser's time is the delay itself plus the winner's, so recording it
    // would feed the p95 delay back into itself.
    if (window !== undefined && (verdict === 'success' || verdict === 'caller-error')) window.record(now, duration)
  }

  /**
   * The first answer this balancer ever got: every endpoint still on its guessed latency takes it
   * as its guess, at the same instant. Without this, a fresh fleet's estimates stay the 30 ms
   * guess for the ~30 s the decay needs to bring them under real latencies, ordered only by the
   * microseconds between their creations (p2c-ewma then sends all light traffic to the oldest).
   */
  calibrate(now: number, ms: number): void {
    this.calibrated = true
    for (const state of this.#host.tracked()) if (state.load.guess) state.load.reset(now, ms)
  }
}
