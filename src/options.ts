import type { ClassifyOption } from './classifier.ts'
import type { Discovery } from './discovery/discovery.ts'
import type { Endpoint, EndpointInfo, EndpointInput } from './endpoint.ts'
import type { Clock } from './internal/clock.ts'
import type { Random } from './internal/random.ts'
import type { PickerFactory } from './pickers/picker.ts'
import type { PickerName } from './pickers/registry.ts'
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
  /**
   * Retry with failover; `false` makes every call a single attempt unless the call's own `retry`
   * asks for retries (those still draw from the default retry budget).
   */
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
  /** Uniform random numbers in [0, 1) (tests inject a seeded one). @default `systemRandom` (a generator seeded from the OS) */
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

export type { Endpoint }
