import type { Core } from '../core.ts'
import type { EndpointState } from '../endpoint-state.ts'

/**
 * Slow start (Envoy `slow_start_config`). Not built yet: returns the hook that sets effective
 * weights before each rebuild, or undefined when `slowStart` is off.
 */
export function slowStartWeights(_core: Core): ((states: Iterable<EndpointState>, now: number) => void) | undefined {
  return undefined
}
