import type { AttemptImpl, CallOutcome } from '../core/ports.ts'
import { describeError } from '../model/describe-error.ts'
import { DeadlineExceededError, NoEndpointAvailableError } from '../model/errors.ts'
import type { RetryEvent } from '../model/events.ts'

/** The outcome of a call that settled with an error of its own, not an attempt's. */
export function outcomeOf(error: unknown): CallOutcome {
  if (error instanceof NoEndpointAvailableError) return 'no-endpoint'
  if (error instanceof DeadlineExceededError) return 'deadline'
  return 'cancelled'
}

/** The `retry` event for a retry decided after `attempt`: why, in one line, and the failure itself. */
export function retryEvent(attempt: AttemptImpl, next: number, delay: number, callId: number): RetryEvent {
  const error = attempt.failure
  const endpoint = attempt.state.endpoint
  const why = error === undefined ? '' : `: ${describeError(error)}`
  return {
    from: endpoint,
    attempt: next,
    delay,
    callId,
    reason: `${endpoint.id} ${attempt.verdict}${why}`,
    verdict: attempt.verdict,
    ...(error === undefined ? {} : { error }),
  }
}
