import { checkNumber, PERCENT, rangeError, section, TIMER } from '../internal/validate.ts'

// The `breaker` option section.

/** Per-endpoint circuit breakers (opossum). */
export interface BreakerOptions {
  /** Opens when failures / attempts in the window is strictly above this percentage. @default 50 */
  readonly errorThresholdPercentage?: number
  /** Attempts in the window needed before the breaker may open (opossum's own default 0 trips on one failure). @default 20 */
  readonly volumeThreshold?: number
  /** The rolling window, in ms. @default 10_000 */
  readonly rollingCountTimeout?: number
  /** Buckets in the rolling window (one shared timer rotates all breakers). @default 10 */
  readonly rollingCountBuckets?: number
  /** Time open before a half-open trial, in ms. @default 10_000 */
  readonly resetTimeout?: number
  /** The half-open trial attempt's timeout, in ms: a trial that exceeds it fails. @default 10_000 */
  readonly trialTimeout?: number
}

export interface ResolvedBreaker {
  readonly errorThresholdPercentage: number
  readonly volumeThreshold: number
  readonly rollingCountTimeout: number
  readonly rollingCountBuckets: number
  readonly resetTimeout: number
  readonly trialTimeout: number
}

/** opossum's defaults (50%, 10 s rolling window in 10 buckets, 10 s reset) with a volume floor of 20. */
export const DEFAULT_BREAKER: ResolvedBreaker = Object.freeze({
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 10_000,
  trialTimeout: 10_000,
})

export function resolveBreaker(value: unknown): ResolvedBreaker | false {
  if (value === false) return false
  const b = section('breaker', value, Object.keys(DEFAULT_BREAKER))
  if (b === undefined) return DEFAULT_BREAKER
  const d = DEFAULT_BREAKER
  const resolved = {
    errorThresholdPercentage:
      checkNumber('breaker.errorThresholdPercentage', b.errorThresholdPercentage, PERCENT) ??
      d.errorThresholdPercentage,
    volumeThreshold:
      checkNumber('breaker.volumeThreshold', b.volumeThreshold, { integer: true, min: 0, max: 1e9 }) ??
      d.volumeThreshold,
    rollingCountTimeout:
      checkNumber('breaker.rollingCountTimeout', b.rollingCountTimeout, { integer: true, min: 10, max: 3_600_000 }) ??
      d.rollingCountTimeout,
    rollingCountBuckets:
      checkNumber('breaker.rollingCountBuckets', b.rollingCountBuckets, { integer: true, min: 1, max: 1000 }) ??
      d.rollingCountBuckets,
    resetTimeout: checkNumber('breaker.resetTimeout', b.resetTimeout, TIMER) ?? d.resetTimeout,
    trialTimeout: checkNumber('breaker.trialTimeout', b.trialTimeout, TIMER) ?? d.trialTimeout,
  }
  if (resolved.rollingCountTimeout % resolved.rollingCountBuckets !== 0) {
    throw rangeError(
      'breaker.rollingCountBuckets',
      `a divisor of \`breaker.rollingCountTimeout\` (${resolved.rollingCountTimeout})`,
      resolved.rollingCountBuckets,
    )
  }
  return Object.freeze(resolved)
}
