import type { ClassifyOption } from './classifier.ts'
import type { Discovery } from './discovery/discovery.ts'
import type { Endpoint, EndpointInfo, EndpointInput } from './endpoint.ts'
import { type Clock, systemClock } from './internal/clock.ts'
import { type Random, systemRandom } from './internal/random.ts'
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  checkString,
  isPlainObject,
  rangeError,
  rejectUnknownKeys,
  typeError,
} from './internal/validate.ts'
import type { PickerFactory } from './pickers/picker.ts'
import { PICKER_NAMES, type PickerName, pickerByName } from './pickers/registry.ts'
import type { Verdict } from './verdict.ts'

// ---------------------------------------------------------------------------------------------
// Option types. Every default below is applied once, in resolveOptions(), and frozen.
// ---------------------------------------------------------------------------------------------

/** The retry budget (Finagle `RetryBudget`, tower `TpsBudget`): retries ≤ percent of calls + a floor. */
export interface RetryBudgetOptions {
  /** Retries allowed as a percentage of calls in the window. @default 20 */
  readonly percent?: number
  /** Retries always allowed per second, whatever the call rate (the budget's floor). @default 10 */
  readonly minPerSecond?: number
  /** How far back calls and retries count, in ms. @default 10_000 */
  readonly window?: number
}

/** What `retry.shouldRetry` is asked after a failed attempt. */
export interface RetryDecision {
  readonly verdict: Verdict
  /** The attempt that just ended (1-based). */
  readonly attempt: number
  readonly endpoint: Endpoint<unknown>
  readonly idempotent: boolean
  /** What the attempt threw, if it threw. */
  readonly error?: unknown
  /** What the attempt returned, if it returned. */
  readonly value?: unknown
  /** keel's own answer, which `undefined` keeps. */
  readonly retryable: boolean
}

/** Retry-with-failover settings that a call may override. */
export interface CallRetryOptions {
  /** Retries after the first attempt; each goes to an endpoint not yet tried when one is eligible. @default 2 */
  readonly retries?: number
  /** Smallest backoff before a retry, in ms (exponential, full jitter). @default 25 */
  readonly minTimeout?: number
  /** Largest backoff before a retry, in ms. @default 250 */
  readonly maxTimeout?: number
  /** Growth of the backoff per retry. @default 2 */
  readonly factor?: number
  /** Longest Retry-After / grpc-retry-pushback-ms keel honours, in ms; longer ones are capped. @default 30_000 */
  readonly maxRetryAfter?: number
  /**
   * Overrides keel's decision after a failed attempt: `true` retries, `false` stops, `undefined`
   * keeps keel's answer (`decision.retryable`). Never called for `cancelled`.
   */
  readonly shouldRetry?: (decision: RetryDecision) => boolean | undefined
}

export interface RetryOptions extends CallRetryOptions {
  /** The balancer-wide retry budget; `false` turns it off. Calls cannot override it. */
  readonly budget?: RetryBudgetOptions | false
}

/** Hedged requests ("The Tail at Scale"): idempotent calls only. */
export interface HedgeOptions {
  /** ms after an attempt starts before a hedge is sent, or `'p95'` of recent attempt latency. */
  readonly delay: number | 'p95'
  /** Attempts in flight at once for one call, the first included. @default 2 */
  readonly maxAttempts?: number
}

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
  /** `false` turns success-rate ejection off. */
  readonly successRate?: SuccessRateOptions | false
  /** `false` turns failure-percentage ejection off. */
  readonly failurePercentage?: FailurePercentageOptions | false
}

/** Active health checks (off unless this option is given). */
export interface HealthCheckOptions {
  /** @default 'http' */
  readonly type?: 'http' | 'tcp' | 'grpc' | 'custom'
  /** Path of an `http` check, joined onto the endpoint's prefix. @default '/health' */
  readonly path?: string
  /** Request headers of an `http` check. */
  readonly headers?: Readonly<Record<string, string>>
  /** Statuses that pass an `http` check: one status or an inclusive `[min, max]`. @default [200, 399] */
  readonly expectedStatus?: number | readonly [number, number]
  /** `grpc.health.v1` service name of a `grpc` check. @default '' (the whole server) */
  readonly service?: string
  /** The check of type `custom`: resolve `true` for healthy. */
  readonly check?: (endpoint: EndpointInfo, signal: AbortSignal) => Promise<boolean>
  /** Time between checks of one endpoint, in ms. @default 5_000 */
  readonly interval?: number
  /** A check slower than this fails, in ms. @default 1_000 */
  readonly timeout?: number
  /** Consecutive passing checks that make an unhealthy endpoint healthy. @default 2 */
  readonly healthyThreshold?: number
  /** Consecutive failing checks that make a healthy endpoint unhealthy. @default 3 */
  readonly unhealthyThreshold?: number
  /** Random spread of each interval, as a percentage of it (±). @default 10 */
  readonly jitter?: number
}

/** Slow start (Envoy `slow_start_config`): ramps new and restored endpoints up over `window`. */
export interface SlowStartOptions {
  /** Ramp duration, in ms. */
  readonly window: number
  /** Weight at the start of the ramp, as a percentage of the full weight. @default 10 */
  readonly minWeightPercent?: number
  /** Ramp shape: weight ∝ (elapsed / window)^(1 / aggression). @default 1 (linear) */
  readonly aggression?: number
}

/**
 * Balancer options. Pass `endpoints` or `discovery`. Every option is validated once, here; a bad
 * value throws a `TypeError` or `RangeError` naming it.
 */
export interface BalancerOptions<C = never> {
  /** The endpoints to balance over. */
  readonly endpoints?: readonly EndpointInput[]
  /** A source of endpoints instead of `endpoints` (then `update`/`add`/`remove` throw). */
  readonly discovery?: Discovery
  /** Accept an empty answer from discovery instead of treating it as an error. @default false */
  readonly allowEmpty?: boolean
  /** The selection algorithm: a name or a factory. @default 'p2c-ewma' */
  readonly picker?: PickerName | PickerFactory
  /** The picker for calls without a `key` when `picker` is a hash picker. @default 'p2c-ewma' */
  readonly fallbackPicker?: PickerName | PickerFactory
  /** TLS SNI / certificate name / `Host` for endpoints that give none (dialling an IP). */
  readonly servername?: string
  /** An endpoint with this many attempts in flight is not eligible (Envoy `max_requests`). @default Infinity (off) */
  readonly maxInFlightPerEndpoint?: number
  /** How long a removed endpoint's in-flight attempts may run before they are cancelled, in ms. @default 30_000 */
  readonly drainTimeout?: number
  /** Default overall timeout of a call, retries included, in ms. @default undefined (none) */
  readonly timeout?: number
  /** Default timeout of each attempt, in ms (`AttemptTimeoutError`, an `endpoint-failure`). @default undefined (none) */
  readonly attemptTimeout?: number
  /** Retry with failover; `false` makes every call a single attempt. */
  readonly retry?: RetryOptions | false
  /** Hedged requests for idempotent calls. @default false */
  readonly hedge?: HedgeOptions | false
  /** Per-endpoint circuit breakers; `false` turns them off. */
  readonly breaker?: BreakerOptions | false
  /** Passive outlier detection; `false` turns it off. */
  readonly outlierDetection?: OutlierDetectionOptions | false
  /** Active health checks. @default false */
  readonly healthCheck?: HealthCheckOptions | false
  /** Ramp new and restored endpoints up. @default false */
  readonly slowStart?: SlowStartOptions | false
  /** Most endpoints breakers and outlier detection may eject together, as a percentage (at least one). @default 10 */
  readonly maxEjectionPercent?: number
  /** A priority level whose eligible share is under this percentage balances over all its members. @default 50 */
  readonly panicThreshold?: number
  /** Overrides how outcomes become verdicts. */
  readonly classify?: ClassifyOption
  /** Makes the per-endpoint client that `endpoint.client` returns. */
  readonly createClient?: (endpoint: EndpointInfo) => C
  /** Closes a client made by `createClient`. */
  readonly closeClient?: (client: C) => void | Promise<void>
  /**
   * Closes and recreates per-endpoint resources this long after their creation (±10% jitter), in
   * ms, so keep-alive connections re-spread after a scale-up. @default undefined (never)
   */
  readonly maxConnectionAge?: number
  /** Time and timers (tests inject a manual clock). @default the system clock */
  readonly clock?: Clock
  /** Uniform random numbers in [0, 1) (tests inject a seeded one). @default Math.random */
  readonly random?: Random
}

/** Options of one call. */
export interface CallOptions {
  /** Routes the call by this key with a hash picker; a string is hashed as UTF-8. */
  readonly key?: string | Uint8Array
  /** The call may run more than once (retries after `endpoint-failure`, hedging). @default false */
  readonly idempotent?: boolean
  /** Aborting it ends the call at once with the signal's reason. */
  readonly signal?: AbortSignal
  /** Overall timeout, retries and backoffs included, in ms. @default the balancer's `timeout` */
  readonly timeout?: number
  /** Timeout of each attempt, in ms. @default the balancer's `attemptTimeout` */
  readonly attemptTimeout?: number
  /** Overrides the balancer's retry settings (not its budget); `false` makes one attempt. */
  readonly retry?: CallRetryOptions | false
  /** Overrides the balancer's hedging; `false` turns it off. */
  readonly hedge?: HedgeOptions | false
}

// ---------------------------------------------------------------------------------------------
// Resolved (validated, merged, frozen) forms.
// ---------------------------------------------------------------------------------------------

export interface ResolvedBudget {
  readonly percent: number
  readonly minPerSecond: number
  readonly window: number
}

export interface ResolvedRetry {
  readonly retries: number
  readonly minTimeout: number
  readonly maxTimeout: number
  readonly factor: number
  readonly maxRetryAfter: number
  readonly shouldRetry: ((decision: RetryDecision) => boolean | undefined) | undefined
}

export interface ResolvedHedge {
  readonly delay: number | 'p95'
  readonly maxAttempts: number
}

export interface ResolvedBreaker {
  readonly errorThresholdPercentage: number
  readonly volumeThreshold: number
  readonly rollingCountTimeout: number
  readonly rollingCountBuckets: number
  readonly resetTimeout: number
  readonly trialTimeout: number
}

export interface ResolvedOutlier {
  readonly consecutiveFailures: number
  readonly consecutiveNotSent: number
  readonly interval: number
  readonly baseEjectionTime: number
  readonly maxEjectionTime: number
  readonly successRate: Required<SuccessRateOptions> | false
  readonly failurePercentage: Required<FailurePercentageOptions> | false
}

export interface ResolvedHealthCheck {
  readonly type: 'http' | 'tcp' | 'grpc' | 'custom'
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly expectedStatus: readonly [number, number]
  readonly service: string
  readonly check: ((endpoint: EndpointInfo, signal: AbortSignal) => Promise<boolean>) | undefined
  readonly interval: number
  readonly timeout: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
  readonly jitter: number
}

export interface ResolvedSlowStart {
  readonly window: number
  readonly minWeightPercent: number
  readonly aggression: number
}

export interface ResolvedOptions {
  readonly endpoints: readonly EndpointInput[] | undefined
  readonly discovery: Discovery | undefined
  readonly allowEmpty: boolean
  readonly picker: PickerFactory
  readonly fallbackPicker: PickerFactory
  readonly servername: string | undefined
  readonly maxInFlightPerEndpoint: number
  readonly drainTimeout: number
  readonly timeout: number | undefined
  readonly attemptTimeout: number | undefined
  readonly retry: ResolvedRetry | false
  readonly budget: ResolvedBudget | false
  readonly hedge: ResolvedHedge | false
  readonly breaker: ResolvedBreaker | false
  readonly outlierDetection: ResolvedOutlier | false
  readonly healthCheck: ResolvedHealthCheck | false
  readonly slowStart: ResolvedSlowStart | false
  readonly maxEjectionPercent: number
  readonly panicThreshold: number
  readonly classify: ClassifyOption | undefined
  readonly createClient: ((endpoint: EndpointInfo) => unknown) | undefined
  readonly closeClient: ((client: unknown) => void | Promise<void>) | undefined
  readonly maxConnectionAge: number | undefined
  readonly clock: Clock
  readonly random: Random
}

/** A call's options merged with the balancer's. */
export interface ResolvedCall {
  readonly key: string | Uint8Array | undefined
  readonly idempotent: boolean
  readonly signal: AbortSignal | undefined
  readonly timeout: number | undefined
  readonly attemptTimeout: number | undefined
  readonly retry: ResolvedRetry | false
  readonly hedge: ResolvedHedge | false
  /** Nothing can end the call but its attempts: no signal, timeout, attempt timeout or hedge (hedging needs `idempotent`). */
  readonly simple: boolean
}

// ---------------------------------------------------------------------------------------------
// Defaults (DESIGN §3; each names the system it comes from in the docs).
// ---------------------------------------------------------------------------------------------

export const DEFAULT_RETRY: ResolvedRetry = Object.freeze({
  retries: 2,
  minTimeout: 25,
  maxTimeout: 250,
  factor: 2,
  maxRetryAfter: 30_000,
  shouldRetry: undefined,
})
export const DEFAULT_BUDGET: ResolvedBudget = Object.freeze({ percent: 20, minPerSecond: 10, window: 10_000 })
export const DEFAULT_BREAKER: ResolvedBreaker = Object.freeze({
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 10_000,
  trialTimeout: 10_000,
})
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
  successRate: DEFAULT_SUCCESS_RATE,
  failurePercentage: DEFAULT_FAILURE_PERCENTAGE,
})

const PERCENT = { min: 0, max: 100 } as const
/** Longest timer Node can hold (≈24.8 days); longer delays would fire at once. */
const MAX_TIMER = 2 ** 31 - 1
const TIMER = { min: 0, minExclusive: true, max: MAX_TIMER } as const

const BALANCER_KEYS = [
  'endpoints',
  'discovery',
  'allowEmpty',
  'picker',
  'fallbackPicker',
  'servername',
  'maxInFlightPerEndpoint',
  'drainTimeout',
  'timeout',
  'attemptTimeout',
  'retry',
  'hedge',
  'breaker',
  'outlierDetection',
  'healthCheck',
  'slowStart',
  'maxEjectionPercent',
  'panicThreshold',
  'classify',
  'createClient',
  'closeClient',
  'maxConnectionAge',
  'clock',
  'random',
] as const
const CALL_KEYS = ['key', 'idempotent', 'signal', 'timeout', 'attemptTimeout', 'retry', 'hedge'] as const
const CALL_RETRY_KEYS = ['retries', 'minTimeout', 'maxTimeout', 'factor', 'maxRetryAfter', 'shouldRetry'] as const

function section(name: string, value: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  const object = checkObject(name, value)
  if (object !== undefined) rejectUnknownKeys(name, object, keys)
  return object
}

function resolvePicker(option: string, value: unknown, fallback: PickerName): PickerFactory {
  if (value === undefined) return pickerByName(fallback)
  if (typeof value === 'string') return pickerByName(checkOneOf(option, value, PICKER_NAMES)!)
  if (typeof value === 'object' && value !== null) {
    const factory = value as PickerFactory
    if (typeof factory.build !== 'function') throw typeError(`${option}.build`, 'a function', factory.build)
    checkString(`${option}.name`, factory.name)
    checkOneOf(`${option}.scope`, factory.scope, ['eligible', 'members'])
    checkNumber(`${option}.rebuildIntervalMs`, factory.rebuildIntervalMs, { min: 0, max: MAX_TIMER })
    checkBoolean(`${option}.keyed`, factory.keyed)
    checkBoolean(`${option}.slowStart`, factory.slowStart)
    return factory
  }
  throw typeError(option, `a picker name (${PICKER_NAMES.map((n) => `'${n}'`).join(', ')}) or a picker factory`, value)
}

function resolveRetrySettings(name: string, value: Record<string, unknown>, base: ResolvedRetry): ResolvedRetry {
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

function resolveHedge(name: string, value: unknown): ResolvedHedge | false {
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

function resolveBudget(value: unknown): ResolvedBudget | false {
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

function resolveBreaker(value: unknown): ResolvedBreaker | false {
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

function resolveOutlier(value: unknown): ResolvedOutlier | false {
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

function resolveHealthCheck(value: unknown): ResolvedHealthCheck | false {
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

function resolveSlowStart(value: unknown): ResolvedSlowStart | false {
  if (value === undefined || value === false) return false
  const s = section('slowStart', value, ['window', 'minWeightPercent', 'aggression'])!
  if (s.window === undefined) throw typeError('slowStart.window', 'a positive number of ms', s.window)
  return Object.freeze({
    window: checkNumber('slowStart.window', s.window, TIMER)!,
    minWeightPercent: checkNumber('slowStart.minWeightPercent', s.minWeightPercent, { min: 0, max: 100 }) ?? 10,
    aggression: checkNumber('slowStart.aggression', s.aggression, { min: 0, minExclusive: true, max: 100 }) ?? 1,
  })
}

function resolveClassify(value: unknown): ClassifyOption | undefined {
  if (value === undefined || typeof value === 'function') return value as ClassifyOption | undefined
  const c = section('classify', value, ['classify', 'discard'])!
  checkFunction('classify.classify', c.classify)
  if (c.classify === undefined) throw typeError('classify.classify', 'a function', c.classify)
  checkFunction('classify.discard', c.discard)
  return value as ClassifyOption
}

function resolveClock(value: unknown): Clock {
  if (value === undefined) return systemClock
  const c = checkObject('clock', value)!
  for (const method of ['now', 'wallNow', 'setTimeout', 'clearTimeout']) {
    if (typeof c[method] !== 'function') throw typeError(`clock.${method}`, 'a function', c[method])
  }
  return value as Clock
}

function resolveDiscovery(value: unknown): Discovery | undefined {
  if (value === undefined) return undefined
  const d = checkObject('discovery', value)!
  if (typeof d.watch !== 'function') throw typeError('discovery.watch', 'a function', d.watch)
  if (d.refresh !== undefined && typeof d.refresh !== 'function')
    throw typeError('discovery.refresh', 'a function', d.refresh)
  return value as Discovery
}

/** Validates `options` once, merges the defaults and freezes the result. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {}
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  const o = options
  rejectUnknownKeys('', o, BALANCER_KEYS)
  if (o.endpoints !== undefined && !Array.isArray(o.endpoints))
    throw typeError('endpoints', 'an array of endpoints', o.endpoints)
  const discovery = resolveDiscovery(o.discovery)
  if (discovery !== undefined && o.endpoints !== undefined) {
    throw typeError('discovery', 'absent when `endpoints` is given (pass one or the other)', '[Discovery]')
  }
  const servername = checkString('servername', o.servername)
  const retryOption = o.retry
  let retry: ResolvedRetry | false = DEFAULT_RETRY
  let budget: ResolvedBudget | false = DEFAULT_BUDGET
  if (retryOption === false) {
    retry = false
    budget = false
  } else if (retryOption !== undefined) {
    const r = section('retry', retryOption, [...CALL_RETRY_KEYS, 'budget'])!
    retry = resolveRetrySettings('retry', r, DEFAULT_RETRY)
    budget = resolveBudget(r.budget)
  }
  const createClient = checkFunction<NonNullable<ResolvedOptions['createClient']>>('createClient', o.createClient)
  const closeClient = checkFunction<NonNullable<ResolvedOptions['closeClient']>>('closeClient', o.closeClient)
  if (closeClient !== undefined && createClient === undefined) {
    throw typeError('createClient', 'a function when `closeClient` is given', o.createClient)
  }
  const random = checkFunction<Random>('random', o.random) ?? systemRandom
  const picker = resolvePicker('picker', o.picker, 'p2c-ewma')
  // The fallback serves calls without a key, so only keyed (hash) pickers need one.
  const fallbackPicker =
    picker.keyed === true || o.fallbackPicker !== undefined
      ? resolvePicker('fallbackPicker', o.fallbackPicker, 'p2c-ewma')
      : picker
  if (fallbackPicker.keyed === true)
    throw typeError('fallbackPicker', 'a picker that needs no key', fallbackPicker.name)
  return Object.freeze({
    endpoints: o.endpoints === undefined ? undefined : Object.freeze([...(o.endpoints as EndpointInput[])]),
    discovery,
    allowEmpty: checkBoolean('allowEmpty', o.allowEmpty) ?? false,
    picker,
    fallbackPicker,
    servername,
    maxInFlightPerEndpoint:
      checkNumber('maxInFlightPerEndpoint', o.maxInFlightPerEndpoint, { integer: true, min: 1, allowInfinity: true }) ??
      Number.POSITIVE_INFINITY,
    drainTimeout: checkNumber('drainTimeout', o.drainTimeout, { min: 0, max: MAX_TIMER }) ?? 30_000,
    timeout: checkNumber('timeout', o.timeout, TIMER),
    attemptTimeout: checkNumber('attemptTimeout', o.attemptTimeout, TIMER),
    retry,
    budget,
    hedge: resolveHedge('hedge', o.hedge),
    breaker: resolveBreaker(o.breaker),
    outlierDetection: resolveOutlier(o.outlierDetection),
    healthCheck: resolveHealthCheck(o.healthCheck),
    slowStart: resolveSlowStart(o.slowStart),
    maxEjectionPercent: checkNumber('maxEjectionPercent', o.maxEjectionPercent, PERCENT) ?? 10,
    panicThreshold: checkNumber('panicThreshold', o.panicThreshold, PERCENT) ?? 50,
    classify: resolveClassify(o.classify),
    createClient,
    closeClient,
    maxConnectionAge: checkNumber('maxConnectionAge', o.maxConnectionAge, TIMER),
    clock: resolveClock(o.clock),
    random,
  })
}

// Nested retry/hedge objects are usually constants: validated once per object identity.
const retryCache = new WeakMap<object, ResolvedRetry>()
const hedgeCache = new WeakMap<object, ResolvedHedge>()

function callRetry(value: unknown, balancer: ResolvedOptions): ResolvedRetry | false {
  if (value === undefined) return balancer.retry
  if (value === false) return false
  if (typeof value !== 'object' || value === null) throw typeError('retry', 'an object or false', value)
  let resolved = retryCache.get(value)
  if (resolved === undefined) {
    const r = section('retry', value, CALL_RETRY_KEYS)!
    resolved = resolveRetrySettings('retry', r, balancer.retry === false ? DEFAULT_RETRY : balancer.retry)
    retryCache.set(value, resolved)
  }
  return resolved
}

function callHedge(value: unknown, balancer: ResolvedOptions): ResolvedHedge | false {
  if (value === undefined) return balancer.hedge
  if (value === false) return false
  if (typeof value !== 'object' || value === null) throw typeError('hedge', 'an object or false', value)
  let resolved = hedgeCache.get(value)
  if (resolved === undefined) {
    resolved = resolveHedge('hedge', value) as ResolvedHedge
    hedgeCache.set(value, resolved)
  }
  return resolved
}

/** The options of a call without any: the balancer's defaults, resolved once. */
export function defaultCall(balancer: ResolvedOptions): ResolvedCall {
  return Object.freeze({
    key: undefined,
    idempotent: false,
    signal: undefined,
    timeout: balancer.timeout,
    attemptTimeout: balancer.attemptTimeout,
    retry: balancer.retry,
    hedge: balancer.hedge,
    // Without `idempotent` a call is never hedged, so the balancer's hedge setting does not matter here.
    simple: balancer.timeout === undefined && balancer.attemptTimeout === undefined,
  })
}

/**
 * Validates one call's options and merges the balancer's. Scalars are checked with a few `typeof`
 * tests per call; the nested `retry` and `hedge` objects are validated once per object identity.
 */
export function resolveCall(options: CallOptions, balancer: ResolvedOptions): ResolvedCall {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options)
  const { key, idempotent, signal, timeout, attemptTimeout } = options
  if (key !== undefined && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw typeError('key', 'a string or a Uint8Array', key)
  }
  if (idempotent !== undefined && typeof idempotent !== 'boolean')
    throw typeError('idempotent', 'a boolean', idempotent)
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw typeError('signal', 'an AbortSignal', signal)
  }
  const t = timeout === undefined ? balancer.timeout : (checkNumber('timeout', timeout, TIMER) as number)
  const at =
    attemptTimeout === undefined
      ? balancer.attemptTimeout
      : (checkNumber('attemptTimeout', attemptTimeout, TIMER) as number)
  const retry = callRetry(options.retry, balancer)
  const hedge = callHedge(options.hedge, balancer)
  for (const k in options) {
    if (!(CALL_KEYS as readonly string[]).includes(k)) rejectUnknownKeys('', options, CALL_KEYS)
  }
  return {
    key,
    idempotent: idempotent ?? false,
    signal,
    timeout: t,
    attemptTimeout: at,
    retry,
    hedge,
    simple: signal === undefined && t === undefined && at === undefined && (hedge === false || idempotent !== true),
  }
}

export type { Endpoint }
