import type { Core } from '../core.ts'
import type { EndpointState } from '../endpoint-state.ts'
import { DEFAULT_RETRY } from '../resolved-options.ts'

/**
 * The shortest pause of an endpoint that shed load, in ms, whatever it asked for: a 429 without
 * `Retry-After`, `Retry-After: 0`, RESOURCE_EXHAUSTED without pushback. Without it a replica that
 * sheds everything at once stays eligible and, answering fast, keeps winning picks (the drills
 * measured 26–45% of attempts on such a replica). One second is the granularity of `Retry-After`
 * itself (delay-seconds, RFC 9110 §10.2.3) and where Linkerd's failure-accrual backoff starts.
 */
export const OVERLOAD_PAUSE_FLOOR_MS = 1_000

/** How long an `overloaded` answer pauses its endpoint: the server's delay within [1 s, cap]. */
export function overloadPauseMs(retryAfterMs: number, cap: number): number {
  return Math.min(Math.max(Number.isFinite(retryAfterMs) ? retryAfterMs : cap, OVERLOAD_PAUSE_FLOOR_MS), cap)
}

/**
 * The overload detector: an `overloaded` verdict (429, 503 with Retry-After, RESOURCE_EXHAUSTED)
 * makes the endpoint ineligible for the server's delay, at least `OVERLOAD_PAUSE_FLOOR_MS` and at
 * most `retry.maxRetryAfter`. Load shedding is not a fault: nothing counts against the endpoint's
 * failures, and the ejection does not count toward `maxEjectionPercent`.
 */
export function pauseForOverload(core: Core, state: EndpointState, retryAfterMs: number, now: number): void {
  const cap = core.options.retry === false ? DEFAULT_RETRY.maxRetryAfter : core.options.retry.maxRetryAfter
  const delay = overloadPauseMs(retryAfterMs, cap)
  if (!(delay > 0)) return
  const until = now + delay
  if (until <= state.overloadUntil) return
  state.overloadUntil = until
  core.ejection.eject(state, 'overload', 'retry-after', until)
}
