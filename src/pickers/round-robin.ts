import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { SmoothWeightedPicker } from './smooth-weighted.ts'
import { tableCycle, WeightedTablePicker } from './weighted-table.ts'
import { allWeightsEqual } from './weights.ts'

/**
 * Plain rotation over equally weighted endpoints (gRPC `round_robin`, Envoy ROUND_ROBIN's
 * unweighted path): each pick takes the next endpoint. A skipped endpoint (tried by this call or
 * at its in-flight cap) is passed over and loses its turn.
 */
export class RoundRobinPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  cursor: number

  constructor(endpoints: readonly PickerEndpoint[], cursor: number) {
    this.#endpoints = endpoints
    this.cursor = cursor
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    const max = context.maxInFlight
    for (let tries = 0; tries < n; tries++) {
      const i = this.cursor
      this.cursor = i + 1 >= n ? 0 : i + 1
      const e = endpoints[i]!
      if (e.inFlight < max && !context.skipped(e)) return e
    }
    return undefined
  }

  /** The endpoint the next pick would return if nothing is skipped. */
  nextEndpoint(): PickerEndpoint | undefined {
    return this.#endpoints[this.cursor]
  }
}

/**
 * Builds the rotation for `round-robin` and `weighted-round-robin`: plain rotation while every
 * effective weight is equal (the ≤ 15 ns path); the smooth weighted schedule otherwise —
 * tabulated when the weights are integers summing to at most 16,384 (static weights: a cursor
 * step per pick), on a heap when they are not (slow start ramping an endpoint up, huge weights).
 *
 * The first picker starts at a random place, so a fleet of clients does not march in step (Envoy
 * seeds its index per load balancer, gRPC starts at a random index). Later pickers continue where
 * the one they replace stopped: at the same next endpoint when it is still there; the heap keeps
 * every remaining endpoint's time to its next turn.
 */
export function buildRotation(endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker {
  const n = endpoints.length
  const previous = context.previous
  const ours =
    previous instanceof RoundRobinPicker ||
    previous instanceof SmoothWeightedPicker ||
    previous instanceof WeightedTablePicker
  const next = ours ? previous.nextEndpoint() : undefined
  if (allWeightsEqual(endpoints)) {
    let cursor = 0
    if (n > 0 && ours) {
      const at = next === undefined ? -1 : endpoints.indexOf(next)
      cursor = at >= 0 ? at : previous instanceof RoundRobinPicker ? previous.cursor % n : 0
    } else if (n > 0) {
      cursor = Math.floor(context.random() * n)
    }
    return new RoundRobinPicker(endpoints, cursor)
  }
  const cycle = tableCycle(endpoints)
  if (cycle > 0) return new WeightedTablePicker(endpoints, cycle, next, Math.floor(context.random() * cycle))
  if (previous instanceof SmoothWeightedPicker) return new SmoothWeightedPicker(endpoints, previous, 0)
  return new SmoothWeightedPicker(endpoints, undefined, Math.floor(context.random() * n))
}

/**
 * Round-robin (gRPC `round_robin`, Envoy ROUND_ROBIN). Like Envoy's, it honours weights: equal
 * effective weights rotate in order; unequal ones — static weights, or slow start ramping an
 * endpoint up — follow the smooth weighted schedule of `weighted-round-robin`. Give every
 * endpoint the same weight to get plain rotation.
 */
export function roundRobin(): PickerFactory {
  return { name: 'round-robin', build: buildRotation }
}
