import type { HedgeOptions } from '../call/hedge-options.ts'
import type { CallRetryOptions, RetryOptions } from '../call/retry-options.ts'
import type { ClassifyOption } from '../classify/classifier.ts'
import type { Discovery } from '../discovery/discovery.ts'
import type { BreakerOptions } from '../ejection/breaker-options.ts'
import type { HealthCheckOptions } from '../ejection/health/health-options.ts'
import type { OutlierDetectionOptions } from '../ejection/outlier-options.ts'
import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import type { BalancerAddOn } from '../model/add-on.ts'
import type { Endpoint, EndpointInfo, EndpointInput } from '../model/endpoint.ts'
import type { PickerFactory } from '../model/picker.ts'
import type { PickerName } from '../pickers/registry.ts'
import type { ZoneAwareOptions } from '../priorities/zone-options.ts'
import type { SlowStartOptions } from '../warmup/slow-start-options.ts'

// ---------------------------------------------------------------------------------------------
// The balancer's and a call's options. Each section (retry, budget, hedge, breaker,
// outlierDetection, healthCheck, slowStart) lives beside the feature it configures, with its one
// default and its validation; resolveOptions() applies them once and freezes the result.
// ---------------------------------------------------------------------------------------------

export type { RetryBudgetOptions } from '../call/budget-options.ts'
export type { HedgeOptions } from '../call/hedge-options.ts'
export type { CallRetryOptions, RetryDecision, RetryOptions } from '../call/retry-options.ts'
export type { BreakerOptions } from '../ejection/breaker-options.ts'
export type { HealthCheckOptions } from '../ejection/health/health-options.ts'
export type {
  FailurePercentageOptions,
  OutlierDetectionOptions,
  SuccessRateOptions,
} from '../ejection/outlier-options.ts'
export type { ZoneAwareOptions, ZoneLatencyOptions } from '../priorities/zone-options.ts'
export type { SlowStartOptions } from '../warmup/slow-start-options.ts'

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
  /**
   * The caller's own zone (e.g. `'us-east-1a'`): calls go to endpoints whose `zone` matches,
   * spilling to other zones as it loses eligible endpoints or turns slow (docs/zones.md).
   * @default undefined (zone-blind)
   */
  readonly localZone?: string
  /** Tunes zone-aware routing (on when `localZone` is set); `false` keeps the balancer zone-blind. @default {} */
  readonly zoneAware?: ZoneAwareOptions | false
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
  /**
   * Shares endpoint health with the other instances of the service (`redisSharedHealth` from
   * `keel/redis`): endpoints that a quorum of instances ejected are ejected here too.
   * @default undefined (no sharing)
   */
  readonly sharedHealth?: BalancerAddOn
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
