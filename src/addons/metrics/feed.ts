import type { Balancer } from '../../balancer.ts'
import { addOnPort } from '../../core/port-access.ts'
import type { MetricsRecorder } from './recorder.ts'

/**
 * Feeds a recorder from a balancer through the add-on port: an attempt observer (attempts by
 * endpoint, verdict and duration), a member observer (an endpoint's series go when its drain
 * ends), an ejection listener, and a call observer (outcomes, retries, hedges). Only the retry
 * budget's refusals come from an event, as rare as they are. Returns the function that stops it.
 */
export function feedMetrics(balancer: Balancer<unknown>, recorder: MetricsRecorder): () => void {
  const port = addOnPort(balancer)
  const onBudget = () => {
    recorder.budgetExhausted++
  }
  balancer.on('budgetExhausted', onBudget)
  const removers = [
    port.addAttemptObserver({
      attemptEnded: (attempt) => recorder.attempt(attempt.endpoint, attempt.verdict, attempt.durationMs),
    }),
    port.addMemberObserver({
      attach() {},
      detach: (state) => recorder.forget(state.endpoint),
    }),
    port.addEjectionListener((change) => {
      if (change.kind === 'ejected') recorder.ejected(change.endpoint, change.detector)
    }),
    port.addCallObserver({
      attemptStarted(_call, attempt) {
        if (attempt.hedge) recorder.hedges++
      },
      attemptEnded(_call, _attempt, retried) {
        if (retried) recorder.retries++
      },
      callEnded(_call, outcome) {
        recorder.call(outcome)
      },
    }),
  ]
  return () => {
    balancer.off('budgetExhausted', onBudget)
    for (const remove of removers) remove()
  }
}
