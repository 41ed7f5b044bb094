import type { AttemptObserver, EjectionPort, EndedAttempt } from '../core/ports.ts'

/**
 * The overload detector: an `overloaded` verdict (429, 503 with Retry-After, RESOURCE_EXHAUSTED
 * with pushback) makes the endpoint ineligible for the server's delay, capped by
 * `retry.maxRetryAfter`. Load shedding is not a fault: nothing counts against the endpoint, and
 * the ejection does not count toward `maxEjectionPercent`. Without a delay the endpoint stays
 * eligible (the retry goes elsewhere anyway). The last of keel's attempt observers.
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
    if (attempt.verdict !== 'overloaded') return
    const delay = Math.min(attempt.retryAfterMs, this.#cap)
    if (!(delay > 0)) return
    const state = attempt.state
    const until = now + delay
    if (until <= state.overloadUntil) return
    state.overloadUntil = until
    this.#ejection.eject(state, 'overload', 'retry-after', until)
  }
}
