// The ports: what components, adapters and add-ons may ask of the balancer, and what the balancer
// asks of them. Types only (docs/architecture.md, "Ports"). In the spirit of grpc-js's
// `ChannelControlHelper` (a load-balancing policy talks to its channel through a narrow helper,
// never the channel itself) and tower's `Load` (the load metric updates itself when the request
// ends): every detector, the load estimate and any add-on are observers fed by the hub.

import type { RetryBudget } from '../call/budget.ts'
import type { ResolvedCall } from '../call/call-options.ts'
import type { ResolvedRetry } from '../call/retry-options.ts'
import type { ClassifyResult } from '../classify/classify.ts'
import type { HealthCheck } from '../ejection/health/health-check.ts'
import type { ResolvedHealthCheck } from '../ejection/health/health-options.ts'
import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import type { TimerEntry } from '../internal/timer-queue.ts'
import type { Attempt } from '../model/attempt.ts'
import type { DetectorName, HealthCheckType } from '../model/detector.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { AttemptRecord } from '../model/errors.ts'
import type { Verdict } from '../model/verdict.ts'
import type { CallOptions } from '../options/options.ts'
import type { AttemptCanceller, AttemptImpl } from './attempt.ts'
import type { CallObservation, CallObserver } from './call-observation.ts'
import type { EndpointState } from './endpoint-state.ts'

export type { ResolvedCall } from '../call/call-options.ts'
export type { ResolvedRetry } from '../call/retry-options.ts'
export type { HealthCheck } from '../ejection/health/health-check.ts'
export type { ResolvedHealthCheck } from '../ejection/health/health-options.ts'
export type { TimerEntry } from '../internal/timer-queue.ts'
export type { CallOutcome } from '../model/call-outcome.ts'
export type { DetectorName, HealthCheckType } from '../model/detector.ts'
export type { AttemptCanceller, AttemptImpl, AttemptReceiver } from './attempt.ts'
export type { CallObservation, CallObserver, ObservedCall } from './call-observation.ts'
export type { EndpointState } from './endpoint-state.ts'

/** The balancer's timer queue: one clock timer for every keel timer, all stopped by `close()`. */
export interface Timers {
  /** Runs `fire` at clock time `at`; `keepAlive` keeps the process alive until then (unref'd otherwise). */
  schedule(at: number, fire: () => void, keepAlive?: boolean): TimerEntry
  cancel(entry: TimerEntry): void
}

/** Ejects and restores endpoints through the balancer's one ejection state (`maxEjectionPercent`). */
export interface EjectionPort {
  /**
   * Ejects `state` on behalf of `detector`, for good or `until` a clock time. Returns whether the
   * ejection is in force (false when `maxEjectionPercent` held it back).
   */
  eject(state: EndpointState, detector: DetectorName, reason: string, until?: number): boolean
  /** Lifts `detector`'s ejection of `state` (or its flag held back by the cap). */
  restore(state: EndpointState, detector: DetectorName, reason: string): void
  /** Whether `state` has `detector`'s flag, in force or held back. */
  flagged(state: EndpointState, detector: DetectorName): boolean
}

/** What an `ejected` / `restored` change carries (the events of the same names). */
export interface EjectionChange {
  readonly kind: 'ejected' | 'restored'
  readonly endpoint: Endpoint<unknown>
  readonly detector: DetectorName
  readonly reason: string
  /** Clock time at which a timed ejection lifts. */
  readonly until?: number
}

export type EjectionListener = (change: EjectionChange) => void

/**
 * What a component may ask of the balancer: detectors, health checks, slow start and discovery
 * take this (or a narrower `Pick` of it), never the hub itself.
 */
export interface BalancerPort {
  readonly clock: Clock
  readonly random: Random
  readonly timers: Timers
  /** Emits a balancer event if anyone listens; a listener that throws cannot break keel. */
  emit(event: string, payload: unknown): void
  /** Emits a `warning` event. */
  warn(code: string, message: string): void
  /** Eligibility or weights changed: rebuild the picker snapshot before the next pick. */
  invalidate(): void
  readonly ejection: EjectionPort
  /** The member endpoints (draining ones excluded). */
  members(): IterableIterator<EndpointState>
  /** Every endpoint keel still tracks: members first, then draining ones. */
  tracked(): IterableIterator<EndpointState>
  memberCount(): number
}

/** An attempt that has ended, as observers see it. */
export interface EndedAttempt {
  readonly state: EndpointState
  readonly endpoint: Endpoint<unknown>
  /** 1 for a call's first attempt. */
  readonly number: number
  readonly verdict: Verdict
  /** Clock time it started, and how long it lasted (ms). */
  readonly start: number
  readonly durationMs: number
  /** It was a half-open breaker's or a probation's trial. */
  readonly trial: boolean
  /** With `overloaded`: the server's requested pause (ms), 0 without one. */
  readonly retryAfterMs: number
  /** What `fn` threw, when it threw (read it only on the rare verdicts that need it). */
  readonly error: unknown
  /** keel ended it (deadline, attempt timeout, lost hedge, drain, close); `cancelReason` says why. */
  readonly cancelled: boolean
  readonly cancelReason: unknown
}

/**
 * Fed exactly once per ended attempt, cancelled ones included, after its verdict is known and its
 * in-flight slot released, on the attempt's path (keep it cheap: no allocation, no I/O). Order is
 * fixed: the load estimate (latency), the breaker, outlier detection, the overload pause, then
 * observers added by add-ons in the order they were added.
 */
export interface AttemptObserver {
  attemptEnded(attempt: EndedAttempt, now: number): void
}

/** Told when an endpoint starts being tracked, when it is dropped (drain over), and at close. */
export interface MemberObserver {
  /** A new endpoint (not a revived draining one: it kept its state). */
  attach(state: EndpointState): void
  /** The endpoint finished draining: release what `attach` made. */
  detach(state: EndpointState): void
  /** The balancer is closing: stop timers and in-flight work. `close()` awaits it. */
  close?(): void | Promise<void>
}

/**
 * An adapter's handle on one attempt (`AdapterPort.control(attempt)`), so it needs no cast to
 * keel's attempt class and no AbortSignal listener (≈ 0.7 µs per attempt on Node 24).
 */
export interface AttemptControl {
  /** 1 for the call's first attempt, 2 for its first retry or hedge, and so on (`Attempt.number`). */
  readonly number: number
  /** keel gave up on the attempt (deadline, attempt timeout, lost hedge, drain timeout, close). */
  readonly cancelled: boolean
  /** keel's reason, once `cancelled`. */
  readonly cancelReason: unknown
  /**
   * Told once when keel cancels the attempt, with keel's reason (`attemptCancelled(reason)`); set
   * it back to `undefined` once the exchange is over. At most one per attempt. An object rather
   * than a callback so the adapter's own per-attempt object takes the call: no closure per attempt.
   */
  canceller: AttemptCanceller | undefined
  /** The attempt's response reached the caller: keel must never retry after this attempt. */
  handOver(): void
  /**
   * The adapter knows the verdict better than the outcome says (the gRPC adapter proves
   * `not-sent` from the channel state): keel's rules take it instead of classifying the error.
   * A user's `classify` still runs first.
   */
  knownVerdict(verdict: Verdict): void
  /**
   * The adapter already ran the balancer's classifier (`AdapterPort.classifier.value`) on the value
   * its `fn` returns: keel takes `result` instead of classifying that value a second time. Ignored
   * when `fn` throws.
   */
  classified(result: ClassifyResult): void
  /**
   * Reports the value of an attempt of a driven call (`AdapterPort.drive`), as `fn` returning it
   * would. Only the first `succeed` or `fail` counts; ignored for an attempt of `balancer.call`.
   */
  succeed(value: unknown): void
  /** Reports that an attempt of a driven call failed with `error`, as `fn` throwing it would. */
  fail(error: unknown): void
}

/**
 * A call an adapter drives with callbacks instead of an `fn` returning a promise
 * (`AdapterPort.drive`): keel's own per-call cost is then one small object, with no promise,
 * async frame or closure around the exchange (each is paid on every request and lives as long as
 * it does). It follows `balancer.call`'s rules in every other respect.
 */
export interface AdapterCall {
  /**
   * Starts one attempt on `endpoint`. Its outcome is reported exactly once through the attempt's
   * control (`AdapterPort.control(attempt)`): `succeed(value)` or `fail(error)`, now or later. A
   * throw counts as `fail(thrown)`.
   */
  attempt(endpoint: Endpoint<unknown>, attempt: Attempt): void
  /** The call resolved with its last attempt's value (what `balancer.call` would resolve with). */
  resolved(value: unknown): void
  /** The call failed (what `balancer.call` would reject with); never before `drive` returned. */
  rejected(error: unknown): void
}

/**
 * What a call (the retry loop, hedging, the simple path) needs from the hub: pick and start
 * attempts, end or cancel them, the retry budget, and the call's bookkeeping.
 */
export interface CallPort {
  readonly clock: Clock
  readonly random: Random
  readonly timers: Timers
  readonly budget: RetryBudget | undefined
  readonly classifier: OutcomeClassify
  /** Call observers and diagnostics channels: `start` says whether anyone watches a call. */
  readonly observation: CallObservation
  emit(event: string, payload: unknown): void
  /** Whether `emit(event, …)` would reach a listener: build a costly payload only then. */
  listens(event: string): boolean
  /** Emits `attempt` for an ended attempt, if anyone listens. */
  emitAttempt(attempt: AttemptImpl, retried: boolean): void
  /**
   * Picks and admits an endpoint, avoiding `tried` while another is available (strictly, with
   * `untriedOnly`: hedges). Throws `NoEndpointAvailableError` when nothing can take the attempt.
   */
  select(
    key: string | Uint8Array | undefined,
    tried: readonly EndpointState[] | undefined,
    now: number,
    untriedOnly?: boolean,
  ): EndpointState
  /** Starts an attempt on the endpoint the last `select` admitted: in flight until `finishAttempt`. */
  startAttempt(state: EndpointState, number: number, previous: readonly AttemptRecord[], now: number): AttemptImpl
  /** Arms an attempt timeout (the shorter of it and a trial's timeout wins). */
  armAttemptTimeout(attempt: AttemptImpl, timeoutMs: number): void
  /** keel gives up on an attempt: aborts it and ends it now. */
  cancelAttempt(attempt: AttemptImpl, reason: unknown): void
  /** Ends an attempt exactly once (classify, release, observers). */
  finishAttempt(attempt: AttemptImpl): void
  /** A call started / settled (`close()` waits for the last one). */
  callStarted(): void
  callSettled(): void
  /** A call waits out a backoff with no attempt in flight: `close()` cancels it. */
  waiting(call: { cancel(reason: unknown): void }, waits: boolean): void
  /** The `q` quantile of recent attempt latencies, undefined with too few samples. */
  latencyQuantile(now: number, q: number): number | undefined
  /** Whether any endpoint could take an attempt now (ignoring in-flight caps). */
  anyPickable(): boolean
  /** The earliest clock time an overloaded member accepts traffic again, or Infinity. */
  earliestOverloadEnd(): number
}

/** The balancer-wide settings an adapter derives its per-call options from. */
export interface AdapterSettings {
  readonly retry: ResolvedRetry | false
  readonly timeout: number | undefined
  readonly attemptTimeout: number | undefined
  readonly healthCheck: ResolvedHealthCheck | false
  /** ms; undefined when off. Adapters holding connections themselves (`keel/net`) apply it per connection. */
  readonly maxConnectionAge: number | undefined
  readonly drainTimeout: number
}

/** The balancer's classifier (the user's `classify`, then keel's rules). */
export interface OutcomeClassify {
  value(value: unknown): ClassifyResult
  error(error: unknown): ClassifyResult
  /** Releases a value keel will not return (drains an unread body). */
  discard(value: unknown): void
}

/** What an adapter may ask of a balancer (`adapterPort(balancer)`; replaces reaching its internals). */
export interface AdapterPort {
  readonly clock: Clock
  readonly random: Random
  /** The balancer's one timer queue (cheaper than a timer per connection; stopped by `close()`). */
  readonly timers: Timers
  readonly settings: AdapterSettings
  readonly classifier: OutcomeClassify
  /** A per-endpoint resource name not yet taken: `base`, then `base#2`, `base#3`… */
  uniqueResourceName(base: string): string
  /**
   * Installs the implementation of a health-check type (`grpc`). Returns false when the balancer
   * runs no health checks. Installing the same type twice replaces the check.
   */
  installHealthCheck(type: HealthCheckType, check: HealthCheck): boolean
  /** The control of an attempt this balancer started, undefined for any other object. */
  control(attempt: object): AttemptControl | undefined
  /**
   * The attempt's exchange is established and stays open as long as its caller keeps it (a TCP
   * connection handed to the caller): its latency sample is the time until now, not its lifetime;
   * its attempt timeout and half-open trial timeout stop; a half-open trial counts as passed now
   * (the endpoint took the connection), so the breaker closes without waiting for it to end. It
   * stays in flight until it ends. Ignored for an attempt that ended or is not this balancer's.
   */
  established(attempt: object): void
  /**
   * Validates call options and merges the balancer's, once: keep the result (an adapter's few
   * option sets are constant) and pass it to `drive` per call. Throws what `balancer.call` rejects with.
   */
  resolveCall(options: CallOptions): ResolvedCall
  /** Runs `call` as `balancer.call` runs an `fn` with `options` (resolved by `resolveCall`). */
  drive(call: AdapterCall, options: ResolvedCall): void
}

/**
 * What an add-on entry point (a metrics exporter, shared health over Redis) may do to an existing
 * balancer (`addOnPort(balancer)`). Each `add…` returns its remover.
 */
export interface AddOnPort {
  readonly clock: Clock
  readonly random: Random
  readonly timers: Timers
  /** Emits a balancer event if anyone listens (`sharedHealthError`…); a listener's throw cannot break keel. */
  emit(event: string, payload: unknown): void
  /** Emits a `warning` event with a code. */
  warn(code: string, message: string): void
  /** Runs after keel's own observers (see `AttemptObserver` for the order). */
  addAttemptObserver(observer: AttemptObserver): () => void
  /** Attached at once to every tracked endpoint, then to each new one. */
  addMemberObserver(observer: MemberObserver): () => void
  /** Every ejection and restoration, by any detector, after the state changed. */
  addEjectionListener(listener: EjectionListener): () => void
  /**
   * Told when calls start and end and when their attempts start and end (with whether a retry
   * followed); one observer per balancer may run each attempt's `fn` in its scope (tracing).
   */
  addCallObserver(observer: CallObserver): () => void
  /** Ejects a member by id through the one ejection state. False when unknown or held back by the cap. */
  eject(endpointId: string, detector: DetectorName, reason: string, until?: number): boolean
  /** Lifts `detector`'s ejection of an endpoint by id. False when the id is unknown. */
  restore(endpointId: string, detector: DetectorName, reason: string): boolean
  /** The member endpoints (draining ones excluded). */
  members(): IterableIterator<EndpointState>
}
