import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  checkString,
  rangeError,
  rejectUnknownKeys,
  typeError,
} from './internal/validate.ts'
import {
  DEFAULT_BREAKER,
  DEFAULT_BUDGET,
  DEFAULT_FAILURE_PERCENTAGE,
  DEFAULT_OUTLIER,
  DEFAULT_SUCCESS_RATE,
  type ResolvedBreaker,
  type ResolvedBudget,
  type ResolvedHealthCheck,
  type ResolvedHedge,
  type ResolvedOutlier,
  type ResolvedRetry,
  type ResolvedSlowStart,
} from './resolved-options.ts'

// Validation of one option section each (retry, hedge, breaker, outlierDetection, healthCheck,
// slowStart): messages name the option and show the value.

export const PERCENT = { min: 0, max: 100 } as const
/** Longest timer Node can hold (≈24.8 days); longer delays would fire at once. */
export const MAX_TIMER = 2 ** 31 - 1
export const TIMER = { min: 0, minExclusive: true, max: MAX_TIMER } as const

export const CALL_RETRY_KEYS = [
  'retries',
  'minTimeout',
  'maxTimeout',
  'factor',
  'maxRetryAfter',
  'shouldRetry',
] as const

export function section(name: string, value: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  const object = checkObject(name, value)
  if (object !== undefined) rejectUnknownKeys(name, object, keys)
  return object
}

export function resolveRetrySettings(name: string, value: Record<string, unknown>, base: ResolvedRetry): ResolvedRetry {
  const retries = checkNumber(`${name}.retries`, value.retries, { integer: true, min: 0, max: 100 }) ?? base.retries
  const minTimeout = checkNumber(`${name}.minTimeout`, value.minTimeout, { min: 0, max: MAX_TIMER }) ?? base.minTimeout
  const maxTimeout = checkNumber(`${name}.maxTimeout`, value.maxTimeout, { min: 0, max: MAX_TIMER }) ?? base.maxTimeout
  if (maxTimeout < minTimeout) {
    throw rangeError(`${name}.maxTimeout`, `a number ≥ \`${name}.minTimeout\` (${minTimeout})`, maxTimeout)
  }
  const factor = checkNumber(`${name}.factor`, value.factor, { min: 1, max: 100 }) ?? base.factor
  const maxRetryAfter =
    checkNumber(`${name}.maxRetryAfter`, value.maxRetryAfter, { min: 0, max: MAX_TIMER }) ?? base.maxRetryAfter
  const shouldRetry = checkFunction<NonNullable<ResolvedRetry['shouldRetry']>>(`${name}.shouldRetry`, value.shouldRetry)
  return Object.freeze({
    retries,
    minTimeout,
    maxTimeout,
    factor,
    maxRetryAfter,
    shouldRetry: shouldRetry ?? base.shouldRetry,
  })
}

export function resolveHedge(name: string, value: unknown): ResolvedHedge | false {
  if (value === undefined || value === false) return false
  const hedge = section(name, value, ['delay', 'maxAttempts'])!
  let delay: number | 'p95'
  if (hedge.delay === 'p95') delay = 'p95'
  else if (typeof hedge.delay === 'number')
    delay = checkNumber(`${name}.delay`, hedge.delay, { min: 0, max: MAX_TIMER })!
  else throw typeError(`${name}.delay`, "a number of ms or 'p95'", hedge.delay)
  const maxAttempts = checkNumber(`${name}.maxAttempts`, hedge.maxAttempts, { integer: true, min: 2, max: 10 }) ?? 2
  return Object.freeze({ delay, maxAttempts })
}

export function resolveBudget(value: unknown): ResolvedBudget | false {
  if (value === false) return false
  const budget = section('retry.budget', value, ['percent', 'minPerSecond', 'window'])
  if (budget === undefined) return DEFAULT_BUDGET
  return Object.freeze({
    percent: checkNumber('retry.budget.percent', budget.percent, { min: 0, max: 1000 }) ?? DEFAULT_BUDGET.percent,
    minPerSecond:
      checkNumber('retry.budget.minPerSecond', budget.minPerSecond, { min: 0, max: 1e6 }) ??
      DEFAULT_BUDGET.minPerSecond,
    window: checkNumber('retry.budget.window', budget.window, { min: 100, max: 3_600_000 }) ?? DEFAULT_BUDGET.window,
  })
}

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

const HEALTH_KEYS = [
  'type',
  'path',
  'headers',
  'expectedStatus',
  'service',
  'check',
  'interval',
  'timeout',
  'healthyThreshold',
  'unhealthyThreshold',
  'jitter',
] as const

export function resolveHealthCheck(value: unknown): ResolvedHealthCheck | false {
  if (value === undefined || value === false) return false
  const h = section('healthCheck', value, HEALTH_KEYS)!
  const type = checkOneOf('healthCheck.type', h.type, ['http', 'tcp', 'grpc', 'custom'] as const) ?? 'http'
  const check = checkFunction<NonNullable<ResolvedHealthCheck['check']>>('healthCheck.check', h.check)
  if (type === 'custom' && check === undefined)
    throw typeError('healthCheck.check', "a function when `healthCheck.type` is 'custom'", h.check)
  if (type !== 'custom' && check !== undefined) {
    throw typeError('healthCheck.type', "'custom' when `healthCheck.check` is given", h.type)
  }
  const path = checkString('healthCheck.path', h.path) ?? '/health'
  if (!path.startsWith('/')) throw rangeError('healthCheck.path', 'a path starting with "/"', path)
  const headers = checkObject('healthCheck.headers', h.headers) ?? {}
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw typeError(`healthCheck.headers.${k}`, 'a string', v)
  }
  let expectedStatus: readonly [number, number] = [200, 399]
  if (typeof h.expectedStatus === 'number') {
    const s = checkNumber('healthCheck.expectedStatus', h.expectedStatus, { integer: true, min: 100, max: 599 })!
    expectedStatus = [s, s]
  } else if (Array.isArray(h.expectedStatus)) {
    const [lo, hi] = h.expectedStatus as unknown[]
    if (h.expectedStatus.length !== 2)
      throw typeError('healthCheck.expectedStatus', 'a status or a [min, max] pair', h.expectedStatus)
    const min = checkNumber('healthCheck.expectedStatus[0]', lo, { integer: true, min: 100, max: 599 })!
    const max = checkNumber('healthCheck.expectedStatus[1]', hi, { integer: true, min: 100, max: 599 })!
    if (max < min) throw rangeError('healthCheck.expectedStatus[1]', `a status ≥ ${min}`, max)
    expectedStatus = [min, max]
  } else if (h.expectedStatus !== undefined) {
    throw typeError('healthCheck.expectedStatus', 'a status or a [min, max] pair', h.expectedStatus)
  }
  const interval = checkNumber('healthCheck.interval', h.interval, { min: 10, max: MAX_TIMER }) ?? 5_000
  const timeout = checkNumber('healthCheck.timeout', h.timeout, TIMER) ?? Math.min(1_000, interval)
  return Object.freeze({
    type,
    path,
    headers: Object.freeze({ ...(headers as Record<string, string>) }),
    expectedStatus: Object.freeze(expectedStatus) as readonly [number, number],
    service: checkString('healthCheck.service', h.service, false) ?? '',
    check,
    interval,
    timeout,
    healthyThreshold:
      checkNumber('healthCheck.healthyThreshold', h.healthyThreshold, { integer: true, min: 1, max: 1000 }) ?? 2,
    unhealthyThreshold:
      checkNumber('healthCheck.unhealthyThreshold', h.unhealthyThreshold, { integer: true, min: 1, max: 1000 }) ?? 3,
    jitter: checkNumber('healthCheck.jitter', h.jitter, { min: 0, max: 50 }) ?? 10,
  })
}

export function resolveSlowStart(value: unknown): ResolvedSlowStart | false {
  if (value === undefined || value === false) return false
  const s = section('slowStart', value, ['window', 'minWeightPercent', 'aggression'])!
  if (s.window === undefined) throw typeError('slowStart.window', 'a positive number of ms', s.window)
  return Object.freeze({
    window: checkNumber('slowStart.window', s.window, TIMER)!,
    minWeightPercent: checkNumber('slowStart.minWeightPercent', s.minWeightPercent, { min: 0, max: 100 }) ?? 10,
    aggression: checkNumber('slowStart.aggression', s.aggression, { min: 0, minExclusive: true, max: 100 }) ?? 1,
  })
}
