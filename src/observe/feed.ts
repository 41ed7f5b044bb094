import type { Balancer } from '../balancer.ts'
import type { MetricsRecorder } from './metrics-recorder.ts'

/**
 * Feeds a recorder from a balancer. Returns the function that stops feeding it.
 */
export function feedMetrics(balancer: Balancer<unknown>, recorder: MetricsRecorder): () => void {
  const onAttempt = (event: Parameters<import('../events.ts').BalancerEvents['attempt']>[0]) =>
    recorder.attempt(event.endpoint, event.verdict, event.durationMs)
  const onRetry = () => {
    recorder.retries++
  }
  const onHedge = () => {
    recorder.hedges++
  }
  const onBudget = () => {
    recorder.budgetExhausted++
  }
  const onEjected = (event: Parameters<import('../events.ts').BalancerEvents['ejected']>[0]) =>
    recorder.ejected(event.endpoint, event.detector)
  balancer.on('attempt', onAttempt)
  balancer.on('retry', onRetry)
  balancer.on('hedge', onHedge)
  balancer.on('budgetExhausted', onBudget)
  balancer.on('ejected', onEjected)
  return () => {
    balancer.off('attempt', onAttempt)
    balancer.off('retry', onRetry)
    balancer.off('hedge', onHedge)
    balancer.off('budgetExhausted', onBudget)
    balancer.off('ejected', onEjected)
  }
}
