import type { AttemptObserver, EndedAttempt, EndpointState } from '../core/ports.ts'
import { HedgeLostError } from '../model/errors.ts'
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
        state.load.penalize(now, duration, failureFloorMs(this.#host.members(), state))
        break
      default:
        break
    }
    const window = this.window
    // Answers count, and so does a hedge loser's time so far: it was at least that slow, and
    // leaving it out would hide exactly the tail the p95 delay is meant to see.
    if (
      window !== undefined &&
      (verdict === 'success' || verdict === 'caller-error' || attempt.cancelReason instanceof HedgeLostError)
    ) {
      window.record(now, duration)
    }
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
