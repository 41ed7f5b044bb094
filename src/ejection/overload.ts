import type { Core } from '../core/core.ts'
import type { EndpointState } from '../core/endpoint-state.ts'
import { DEFAULT_RETRY } from '../options/resolved-options.ts'

/**
 * The overload detector: an `overloaded` verdict (429, 503 with Retry-After, RESOURCE_EXHAUSTED
 * with pushback) makes the endpoint ineligible for the server's delay, capped by
 * `retry.maxRetryAfter`. Load shedding is not a fault: nothing counts against the endpoint, and
 * the ejection does not count toward `maxEjectionPercent`. Without a delay the endpoint stays
 * eligible (the retry goes elsewhere anyway).
 */
export function pauseForOverload(core: Core, state: EndpointState, retryAfterMs: number, now: number): void {
  const cap = core.options.retry === false ? DEFAULT_RETRY.maxRetryAfter : core.options.retry.maxRetryAfter
  const delay = Math.min(retryAfterMs, cap)
  if (!(delay > 0)) return
  const until = now + delay
  if (until <= state.overloadUntil) return
  state.overloadUntil = until
  core.ejection.eject(state, 'overload', 'retry-after', until)
}
