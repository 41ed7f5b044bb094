import type { AttemptImpl, CallPort } from '../core/ports.ts'
import type { RetriesExhaustedReason } from '../model/errors.ts'
import { backoffDelay } from './backoff.ts'
import type { ResolvedCall } from './call-options.ts'

/** What to do after an attempt ended. */
export interface Decision {
  readonly retry: boolean
  /** ms to wait before the retry. */
  readonly delay: number
  /** Why no retry follows (when `retry` is false and the attempt failed). */
  readonly reason: RetriesExhaustedReason | undefined
}

export const DONE: Decision = Object.freeze({ retry: false, delay: 0, reason: undefined })
const stop = (reason: RetriesExhaustedReason): Decision => ({ retry: false, delay: 0, reason })

/** The call a decision is made for. */
export interface RetryingCall {
  readonly core: CallPort
  readonly options: ResolvedCall
  /** Clock time by which the call must settle (Infinity without a timeout). */
  readonly deadline: number
}

/**
 * Whether a failed attempt is retried, and after how long (docs/retries.md, "What is retried, and when"): the verdict rules
 * (`not-sent` always; `endpoint-failure` when idempotent; `overloaded` when refused or idempotent;
 * `caller-error` and `cancelled` never), the user's `shouldRetry`, the retries left, overload
 * pauses when nothing else is eligible, the deadline, and the retry budget — in that order, so
 * the budget is only drawn for a retry that will happen.
 */
export function decideRetry(call: RetryingCall, retriesUsed: number, attempt: AttemptImpl): Decision {
  const verdict = attempt.verdict
  if (verdict === 'success') return DONE
  // keel's own cancellations settle the call with their reason; an abort `fn` raised itself is
  // final too, and not a retry exhausted.
  if (verdict === 'cancelled') return attempt.cancelled ? DONE : stop('not-retryable')
  const { core, options } = call
  const retry = options.retry
  if (retry === false) return stop('not-retryable')
  // The adapter handed this attempt's response to the caller (`AttemptControl.handOver`).
  if (attempt.handedOver) return stop('not-retryable')
  const idempotent = options.idempotent
  let retryable =
    verdict === 'not-sent' ||
    (verdict === 'endpoint-failure' && idempotent) ||
    (verdict === 'overloaded' && (attempt.refused || idempotent))
  if (retry.shouldRetry !== undefined) {
    let answer: boolean | undefined
    try {
      answer = retry.shouldRetry({
        verdict,
        attempt: attempt.number,
        endpoint: attempt.state.endpoint,
        idempotent,
        retryable,
        ...(attempt.cancelled
          ? { error: attempt.cancelReason }
          : attempt.threw
            ? { error: attempt.error }
            : { value: attempt.value }),
      })
    } catch (error) {
      // A throwing `shouldRetry` has no opinion: keel's rules decide (never an unsafe replay) and
      // the error surfaces on a microtask, like a listener's.
      queueMicrotask(() => {
        throw error
      })
    }
    if (answer === true || answer === false) retryable = answer
  }
  if (!retryable) return stop('not-retryable')
  if (retriesUsed >= retry.retries) return stop('retries')
  const now = core.clock.now()
  let delay = backoffDelay(attempt.number, retry, core.random)
  if (verdict === 'overloaded' && !core.anyPickable()) {
    // Nothing else can take the retry. A server asking for more than keel ever waits gets its
    // answer back to the caller now, rather than after `maxRetryAfter` of waiting for nothing.
    if (attempt.retryAfterMs > retry.maxRetryAfter) return stop('retry-after')
    // Otherwise wait for the first paused endpoint, if the deadline allows (checked below).
    const until = core.earliestOverloadEnd()
    if (until === Number.POSITIVE_INFINITY) return stop('no-endpoint')
    delay = Math.max(delay, until - now)
  }
  if (now + delay >= call.deadline) return stop('deadline')
  const budget = core.budget
  if (budget !== undefined && !budget.tryWithdraw(now)) {
    const { calls, retries } = budget.counts(now)
    core.emit('budgetExhausted', { retries, requests: calls })
    return stop('budget')
  }
  return { retry: true, delay, reason: undefined }
}
