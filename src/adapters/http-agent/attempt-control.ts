import type { Attempt, AttemptImpl } from '../../attempt.ts'
import { VERDICT_HINT } from '../../classify.ts'

/**
 * Calls `listener` once when keel cancels `attempt` (deadline, attempt timeout, drain, close),
 * cheaper than a listener on `attempt.signal`. Returns false, after calling it, when the attempt
 * was cancelled already.
 */
export function onAttemptCancel(attempt: Attempt, listener: (reason: unknown) => void): boolean {
  const impl = attempt as AttemptImpl
  if (impl.cancelled) {
    listener(impl.cancelReason)
    return false
  }
  impl.onCancel = listener
  return true
}

/** The attempt ended on its own: keel's cancellation no longer concerns it. */
export function clearAttemptCancel(attempt: Attempt): void {
  ;(attempt as AttemptImpl).onCancel = undefined
}

/** Tells keel that `error` ended an attempt that provably wrote nothing: verdict `not-sent`. */
export function knownNotSent<E extends object>(error: E): E {
  ;(error as Record<symbol, unknown>)[VERDICT_HINT] = 'not-sent'
  return error
}
