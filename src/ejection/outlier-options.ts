import { checkBoolean, checkNumber, MAX_TIMER, PERCENT, rangeError, section, TIMER } from '../internal/validate.ts'

// The `outlierDetection` option section.

/** Success-rate ejection (Envoy `success_rate_*`, gRPC A50). */
export interface SuccessRateOptions {
  /** Ejects below mean − stdevFactor × σ of the success rates. @default 1.9 */
  readonly stdevFactor?: number
  /** Requests an endpoint needs in the interval to be judged. @default 100 */
  readonly requestVolume?: number
  /** Endpoints with enough requests needed to run the check at all. @default 5 */
  readonly minimumHosts?: number
  /** Percentage of detected outliers actually ejected. @default 100 */
  readonly enforcing?: number
}

/** Failure-percentage ejection (Envoy `failure_percentage_*`; on here, off by default in Envoy). */
export interface FailurePercentageOptions {
  /** Ejects endpoints whose failure percentage is at or above this. @default 85 */
  readonly threshold?: number
  /** @default 50 */
  readonly requestVolume?: number
  /** @default 5 */
  readonly minimumHosts?: number
  /** @default 100 */
  readonly enforcing?: number
}

/** Passive outlier detection (Envoy, gRPC A50). */
export interface OutlierDetectionOptions {
  /** Consecutive `endpoint-failure`/`not-sent` verdicts that eject at once; `false` turns it off. @default 5 */
  readonly consecutiveFailures?: number | false
  /** Consecutive `not-sent` verdicts that eject at once (a refused connection is definitive). @default 1 */
  readonly consecutiveNotSent?: number | false
  /** Time between success-rate / failure-percentage sweeps, in ms. @default 10_000 */
  readonly interval?: number
  /** Ejection time is this × the endpoint's ejection count, in ms. @default 30_000 */
  readonly baseEjectionTime?: number
  /** Longest ejection, in ms. @default 300_000 */
  readonly maxEjectionTime?: number
  /**
   * Probe an endpoint ejected for consecutive failures or refusals back in: one request on
   * probation, on a backoff from ~1 s (Linkerd's failure accrual), instead of sitting out the
   * whole ejection; `false` keeps Envoy's fixed ejection. @default true
   */
  readonly readmission?: boolean
  /** `false` turns success-rate ejection off. */
  readonly successRate?: SuccessRateOptions | false
  /** `false` turns failure-percentage ejection off. */
  readonly failurePercentage?: FailurePercentageOptions | false
}

export interface ResolvedOutlier {
  readonly consecutiveFailures: number
  readonly consecutiveNotSent: number
  readonly interval: number
  readonly baseEjectionTime: number
  readonly maxEjectionTime: number
  readonly readmission: boolean
  readonly successRate: Required<SuccessRateOptions> | false
  readonly failurePercentage: Required<FailurePercentageOptions> | false
}

/** Envoy's `outlier_detection` defaults (docs/outlier-detection.md lists them). */
export const DEFAULT_SUCCESS_RATE: Required<SuccessRateOptions> = Object.freeze({
  stdevFactor: 1.9,
  requestVolume: 100,
  minimumHosts: 5,
  enforcing: 100,
})
export const DEFAULT_FAILURE_PERCENTAGE: Required<FailurePercentageOptions> = Object.freeze({
  threshold: 85,
  requestVolume: 50,
  minimumHosts: 5,
  enforcing: 100,
})
export const DEFAULT_OUTLIER: ResolvedOutlier = Object.freeze({
  consecutiveFailures: 5,
  consecutiveNotSent: 1,
  interval: 10_000,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  readmission: true,
  successRate: DEFAULT_SUCCESS_RATE,
  failurePercentage: DEFAULT_FAILURE_PERCENTAGE,
})

export function resolveOutlier(value: unknown): ResolvedOutlier | false {
  if (value === false) return false
  const o = section('outlierDetection', value, Object.keys(DEFAULT_OUTLIER))
  if (o === undefined) return DEFAULT_OUTLIER
  const d = DEFAULT_OUTLIER
  const count = (name: string, v: unknown, fallback: number): number =>
    v === false ? 0 : (checkNumber(`outlierDetection.${name}`, v, { integer: true, min: 1, max: 1e6 }) ?? fallback)
  const baseEjectionTime =
    checkNumber('outlierDetection.baseEjectionTime', o.baseEjectionTime, TIMER) ?? d.baseEjectionTime
  const maxEjectionTime = checkNumber('outlierDetection.maxEjectionTime', o.maxEjectionTime, TIMER) ?? d.maxEjectionTime
  if (maxEjectionTime < baseEjectionTime) {
    throw rangeError(
      'outlierDetection.maxEjectionTime',
      `a number ≥ \`outlierDetection.baseEjectionTime\` (${baseEjectionTime})`,
      maxEjectionTime,
    )
  }
  let successRate: ResolvedOutlier['successRate'] = d.successRate
  if (o.successRate === false) successRate = false
  else if (o.successRate !== undefined) {
    const s = section('outlierDetection.successRate', o.successRate, Object.keys(DEFAULT_SUCCESS_RATE))!
    const n = 'outlierDetection.successRate'
    successRate = Object.freeze({
      stdevFactor:
        checkNumber(`${n}.stdevFactor`, s.stdevFactor, { min: 0, max: 100 }) ?? DEFAULT_SUCCESS_RATE.stdevFactor,
      requestVolume:
        checkNumber(`${n}.requestVolume`, s.requestVolume, { integer: true, min: 1, max: 1e9 }) ??
        DEFAULT_SUCCESS_RATE.requestVolume,
      minimumHosts:
        checkNumber(`${n}.minimumHosts`, s.minimumHosts, { integer: true, min: 1, max: 1e6 }) ??
        DEFAULT_SUCCESS_RATE.minimumHosts,
      enforcing: checkNumber(`${n}.enforcing`, s.enforcing, PERCENT) ?? DEFAULT_SUCCESS_RATE.enforcing,
    })
  }
  let failurePercentage: ResolvedOutlier['failurePercentage'] = d.failurePercentage
  if (o.failurePercentage === false) failurePercentage = false
  else if (o.failurePercentage !== undefined) {
    const f = section(
      'outlierDetection.failurePercentage',
      o.failurePercentage,
      Object.keys(DEFAULT_FAILURE_PERCENTAGE),
    )!
    const n = 'outlierDetection.failurePercentage'
    failurePercentage = Object.freeze({
      threshold: checkNumber(`${n}.threshold`, f.threshold, PERCENT) ?? DEFAULT_FAILURE_PERCENTAGE.threshold,
      requestVolume:
        checkNumber(`${n}.requestVolume`, f.requestVolume, { integer: true, min: 1, max: 1e9 }) ??
        DEFAULT_FAILURE_PERCENTAGE.requestVolume,
      minimumHosts:
        checkNumber(`${n}.minimumHosts`, f.minimumHosts, { integer: true, min: 1, max: 1e6 }) ??
        DEFAULT_FAILURE_PERCENTAGE.minimumHosts,
      enforcing: checkNumber(`${n}.enforcing`, f.enforcing, PERCENT) ?? DEFAULT_FAILURE_PERCENTAGE.enforcing,
    })
  }
  return Object.freeze({
    consecutiveFailures: count('consecutiveFailures', o.consecutiveFailures, d.consecutiveFailures),
    consecutiveNotSent: count('consecutiveNotSent', o.consecutiveNotSent, d.consecutiveNotSent),
    interval: checkNumber('outlierDetection.interval', o.interval, { min: 10, max: MAX_TIMER }) ?? d.interval,
    baseEjectionTime,
    maxEjectionTime,
    readmission: checkBoolean('outlierDetection.readmission', o.readmission) ?? d.readmission,
    successRate,
    failurePercentage,
  })
}
