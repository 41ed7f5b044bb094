import type { ClassifyOption } from './classifier.ts'
import type { Discovery } from './discovery/discovery.ts'
import type { EndpointInfo, EndpointInput } from './endpoint.ts'
import type { Clock } from './internal/clock.ts'
import type { Random } from './internal/random.ts'
import type { FailurePercentageOptions, RetryDecision, SuccessRateOptions } from './options.ts'
import type { PickerFactory } from './pickers/picker.ts'

// The options after validation: every default applied, every object frozen (resolve-options.ts).

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
  readonly readmission: boolean
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
  readmission: true,
  successRate: DEFAULT_SUCCESS_RATE,
  failurePercentage: DEFAULT_FAILURE_PERCENTAGE,
})
