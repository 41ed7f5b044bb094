import type { ResolvedBudget } from '../call/budget-options.ts'
import type { ResolvedHedge } from '../call/hedge-options.ts'
import type { ResolvedRetry } from '../call/retry-options.ts'
import type { ClassifyOption } from '../classify/classifier.ts'
import type { Discovery } from '../discovery/discovery.ts'
import type { ResolvedBreaker } from '../ejection/breaker-options.ts'
import type { ResolvedHealthCheck } from '../ejection/health/health-options.ts'
import type { ResolvedOutlier } from '../ejection/outlier-options.ts'
import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import type { BalancerAddOn } from '../model/add-on.ts'
import type { EndpointInfo, EndpointInput } from '../model/endpoint.ts'
import type { PickerFactory } from '../model/picker.ts'
import type { ResolvedZones } from '../priorities/zone-options.ts'
import type { ResolvedSlowStart } from '../warmup/slow-start-options.ts'

// The options after validation: every default applied, every object frozen (resolve-options.ts).
// Each section's resolved form lives beside its feature (call/, ejection/, warmup/).

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
  /** Zone-aware routing, or undefined when the balancer is zone-blind. */
  readonly zones: ResolvedZones | undefined
  readonly classify: ClassifyOption | undefined
  readonly createClient: ((endpoint: EndpointInfo) => unknown) | undefined
  readonly closeClient: ((client: unknown) => void | Promise<void>) | undefined
  readonly sharedHealth: BalancerAddOn | undefined
  readonly maxConnectionAge: number | undefined
  readonly clock: Clock
  readonly random: Random
}
