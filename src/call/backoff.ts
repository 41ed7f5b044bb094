import type { Random } from '../internal/random.ts'
import type { ResolvedRetry } from './retry-options.ts'

/**
 * Exponential backoff with full jitter (Envoy `JitteredExponentialBackOffStrategy`, the AWS
 * "full jitter" variant): before retry k (1-based) wait uniformly in
 * [0, min(maxTimeout, minTimeout × factor^(k−1))). Full jitter spreads a fleet's retries
 * instead of synchronising them; the random source is the balancer's, so tests replay it.
 */
export function backoffDelay(retry: number, options: ResolvedRetry, random: Random): number {
  const ceiling = Math.min(options.maxTimeout, options.minTimeout * options.factor ** (retry - 1))
  return random() * ceiling
}
