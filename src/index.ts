// keel's public surface. Explicit named exports only: anything not listed here is internal.

export type { Attempt } from './attempt.ts'
export { Balancer } from './balancer.ts'
export type { AttemptFn } from './call.ts'
export type { Classifier, ClassifyOption, Outcome } from './classifier.ts'
export { classifyError, classifyStatus, classifyValue, discardValue, parseRetryAfter } from './classify.ts'
export type { Discovery, DiscoveryUpdate } from './discovery/discovery.ts'
export type { StaticDiscovery } from './discovery/static.ts'
export { staticDiscovery } from './discovery/static.ts'
export type { Endpoint, EndpointInput, EndpointObject, EndpointProtocol, ParseEndpointOptions } from './endpoint.ts'
export { EndpointInfo, parseEndpoint } from './endpoint.ts'
export type { DetectorName } from './endpoint-state.ts'
export type { AttemptRecord, NoEndpointReason, RetriesExhaustedReason } from './errors.ts'
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
} from './errors.ts'
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
  WarningEvent,
} from './events.ts'
export type { Clock, TimerHandle } from './internal/clock.ts'
export { systemClock } from './internal/clock.ts'
export type { Random } from './internal/random.ts'
export { seededRandom, systemRandom } from './internal/random.ts'
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
} from './options.ts'
export type { LeastRequestOptions } from './pickers/least-request.ts'
export { leastRequest } from './pickers/least-request.ts'
export type { MaglevOptions } from './pickers/maglev.ts'
export { maglev } from './pickers/maglev.ts'
export { p2cEwma } from './pickers/p2c-ewma.ts'
export type {
  LatencyEstimate,
  PickContext,
  Picker,
  PickerBuildContext,
  PickerEndpoint,
  PickerFactory,
} from './pickers/picker.ts'
export { randomPicker } from './pickers/random.ts'
export type { PickerName } from './pickers/registry.ts'
export type { RingHashOptions } from './pickers/ring-hash.ts'
export { ringHash } from './pickers/ring-hash.ts'
export { roundRobin } from './pickers/round-robin.ts'
export { weightedRoundRobin } from './pickers/weighted-round-robin.ts'
export type { ResourceHandle, ResourceSpec } from './resources.ts'
export type { BalancerSnapshot, EndpointSnapshot, EndpointStateName } from './snapshot.ts'
export type { Classification, Verdict } from './verdict.ts'
