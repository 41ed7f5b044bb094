import type { PickContext, Picker, PickerEndpoint } from '../model/picker.ts'
import { SmoothWeightedPicker } from './smooth-weighted.ts'

/** Longest cycle (Σ weights) worth tabulating: 64 KiB of slots. */
export const MAX_TABLE_CYCLE = 16_384

/**
 * Smooth weighted round-robin over integer weights, one whole cycle of the schedule tabulated at
 * build time (Σ weights slots, each an endpoint), so a pick is a cursor step like plain
 * round-robin: O(1) at any size instead of the heap's O(log n). The table is the smooth schedule
 * itself (`SmoothWeightedPicker` from a fresh start), so every cycle holds each endpoint exactly
 * its weight, interleaved. A skipped endpoint loses its turn, as with a round-robin cursor.
 */
export class WeightedTablePicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #table: Int32Array
  cursor: number

  /** `next`: the endpoint to resume at (the replaced picker's next), else start at `offset`. */
  constructor(endpoints: readonly PickerEndpoint[], cycle: number, next: PickerEndpoint | undefined, offset: number) {
    this.#endpoints = endpoints
    const table = new Int32Array(cycle)
    const schedule = new SmoothWeightedPicker(endpoints, undefined, 0)
    for (let k = 0; k < cycle; k++) table[k] = schedule.takeSlot()
    this.#table = table
    const resume = next === undefined ? -1 : endpoints.indexOf(next)
    const at = resume < 0 ? -1 : table.indexOf(resume)
    this.cursor = at >= 0 ? at : offset % cycle
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const table = this.#table
    const endpoints = this.#endpoints
    const cycle = table.length
    const max = context.maxInFlight
    let c = this.cursor
    // Two endpoints' worth of misses: most endpoints are out, so look at them directly instead.
    const patience = 2 * endpoints.length
    for (let tries = 0; tries < patience; tries++) {
      const e = endpoints[table[c]!]!
      c = c + 1 === cycle ? 0 : c + 1
      if (e.inFlight < max && !context.skipped(e)) {
        this.cursor = c
        return e
      }
    }
    this.cursor = c
    for (const e of endpoints) if (e.inFlight < max && !context.skipped(e)) return e
    return undefined
  }

  /** The endpoint the next pick would return if nothing is skipped. */
  nextEndpoint(): PickerEndpoint | undefined {
    return this.#endpoints[this.#table[this.cursor]!]
  }
}

/** Σ weights when every weight is an integer and the cycle is short enough to tabulate, else 0. */
export function tableCycle(endpoints: readonly PickerEndpoint[]): number {
  let cycle = 0
  for (const e of endpoints) {
    if (!Number.isInteger(e.weight)) return 0
    cycle += e.weight
    if (cycle > MAX_TABLE_CYCLE) return 0
  }
  return cycle
}
