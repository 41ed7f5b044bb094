/**
 * keel's public surface. Explicit named exports only: anything not listed here is internal.
 *
 * @module keel
 */
export { Balancer } from './balancer.ts'
export type { AttemptFn } from './call/call-run.ts'
export type { Classifier, ClassifyOption, Outcome } from './classify/classifier.ts'
export type { ClassifyResult, HeaderSource } from './classify/classify.ts'
export { classifyError, classifyStatus, classifyValue, discardValue, parseRetryAfter } from './classify/classify.ts'
export type { BalancerSnapshot, EndpointSnapshot, EndpointStateName } from './core/snapshot.ts'
export type {
  AttemptEndMessage,
  AttemptStartMessage,
  CallEndMessage,
  CallStartMessage,
  EndpointStateMessage,
} from './diagnostics/messages.ts'
export type { Discovery, DiscoveryUpdate } from './discovery/discovery.ts'
export type { StaticDiscovery } from './discovery/static.ts'
export { staticDiscovery } from './discovery/static.ts'
export type { Clock, TimerHandle } from './internal/clock.ts'
export { systemClock } from './internal/clock.ts'
export type { Random } from './internal/random.ts'
export { seededRandom, systemRandom } from './internal/random.ts'
export type { BalancerAddOn } from './model/add-on.ts'
export type { Attempt } from './model/attempt.ts'
export type { CallOutcome } from './model/call-outcome.ts'
export type { DetectorName, HealthCheckType } from './model/detector.ts'
export type {
  Endpoint,
  EndpointInput,
  EndpointObject,
  EndpointProtocol,
  ParseEndpointOptions,
} from './model/endpoint.ts'
export { EndpointInfo, parseEndpoint } from './model/endpoint.ts'
export type { AttemptRecord, NoEndpointReason, RetriesExhaustedReason } from './model/errors.ts'
export {
  AttemptTimeoutError,
  BalancerClosedError,
  DeadlineExceededError,
  DiscoveryError,
  EndpointRemovedError,
  HedgeLostError,
  isKeelError,
  KeelError,
  NoEndpointAvailableError,
  RetriesExhaustedError,
} from './model/errors.ts'
export type {
  AttemptEvent,
  BalancerEventName,
  BalancerEvents,
  BudgetEvent,
  EjectedEvent,
  EndpointEvent,
  HealthEvent,
  PanicEvent,
  RetryEvent,
  SharedHealthErrorEvent,
  WarningEvent,
} from './model/events.ts'
export type {
  LatencyEstimate,
  PickContext,
  Picker,
  PickerBuildContext,
  PickerEndpoint,
  PickerFactory,
} from './model/picker.ts'
export type { Classification, Verdict } from './model/verdict.ts'
export type {
  BalancerOptions,
  BreakerOptions,
  CallOptions,
  CallRetryOptions,
  FailurePercentageOptions,
  HealthCheckOptions,
  HedgeOptions,
  OutlierDetectionOptions,
  RetryBudgetOptions,
  RetryDecision,
  RetryOptions,
  SlowStartOptions,
  SuccessRateOptions,
  ZoneAwareOptions,
  ZoneLatencyOptions,
} from './options/options.ts'
export type { LeastRequestOptions } from './pickers/least-request.ts'
export { leastRequest } from './pickers/least-request.ts'
export type { MaglevOptions } from './pickers/maglev.ts'
export { maglev } from './pickers/maglev.ts'
export { p2cEwma } from './pickers/p2c-ewma.ts'
export { randomPicker } from './pickers/random.ts'
export type { PickerName } from './pickers/registry.ts'
export type { RingHashOptions } from './pickers/ring-hash.ts'
export { ringHash } from './pickers/ring-hash.ts'
export { roundRobin } from './pickers/round-robin.ts'
export { weightedRoundRobin } from './pickers/weighted-round-robin.ts'
export type { ResourceHandle, ResourceSpec } from './resources/resources.ts'
