import type { AttemptObserver, EjectionPort, EndedAttempt } from '../core/ports.ts'

/**
 * The shortest pause of an endpoint that shed load, in ms, whatever it asked for: a 429 without
 * `Retry-After`, `Retry-After: 0`, RESOURCE_EXHAUSTED without pushback. Without it a replica that
 * sheds everything at once stays eligible and, answering fast, keeps winning picks (the drills
 * measured 26–45% of attempts on such a replica). One second is the granularity of `Retry-After`
 * itself (delay-seconds, RFC 9110 §10.2.3) and where Linkerd's failure-accrual backoff starts.
 */
export const OVERLOAD_PAUSE_FLOOR_MS = 1_000

/**
 * How long an `overloaded` answer pauses its endpoint: the server's delay, at least the floor —
 * doubled for each shedding answer since the endpoint's last success (`streak` 1 for the first),
 * so a replica that sheds everything is backed off exponentially, as failure accrual backs off a
 * failing one — and at most `cap` (`retry.maxRetryAfter`).
 */
export function overloadPauseMs(retryAfterMs: number, cap: number, streak = 1): number {
  const floor = OVERLOAD_PAUSE_FLOOR_MS * 2 ** Math.min(Math.max(streak - 1, 0), 20)
  return Math.min(Math.max(Number.isFinite(retryAfterMs) ? retryAfterMs : cap, floor), cap)
}

/**
 * The overload detector: an `overloaded` verdict (429, 503 with Retry-After, RESOURCE_EXHAUSTED)
 * makes the endpoint ineligible for the server's delay, at least `OVERLOAD_PAUSE_FLOOR_MS`
 * (doubling while it keeps shedding) and at most `retry.maxRetryAfter`. Load shedding is not a
 * fault: nothing counts against the endpoint's failures, and the ejection does not count toward
 * `maxEjectionPercent` (the load observer charges its latency). The last of keel's attempt observers.
 */
export class OverloadObserver implements AttemptObserver {
  readonly #ejection: EjectionPort
  readonly #cap: number

  /** @param maxRetryAfter the longest pause a server may ask for (`retry.maxRetryAfter`) */
  constructor(ejection: EjectionPort, maxRetryAfter: number) {
    this.#ejection = ejection
    this.#cap = maxRetryAfter
  }

  attemptEnded(attempt: EndedAttempt, now: number): void {
    const state = attempt.state
    if (attempt.verdict === 'success') {
      state.overloadStreak = 0
      return
    }
    if (attempt.verdict !== 'overloaded') return
    const delay = overloadPauseMs(attempt.retryAfterMs, this.#cap, ++state.overloadStreak)
    if (!(delay > 0)) return
    const until = now + delay
    if (until <= state.overloadUntil) return
    state.overloadUntil = until
    this.#ejection.eject(state, 'overload', 'retry-after', until)
  }
}
