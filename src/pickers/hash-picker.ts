import { requireNumber } from '../internal/validate.ts'
import type { PickContext, Picker, PickerEndpoint } from '../model/picker.ts'

/** Marks an empty slot while a table is being filled. */
export const EMPTY = 0xffffffff

/**
 * What ring hash and Maglev share: a cyclic table of endpoint indices, built from membership and
 * static weights only, and a lookup that starts at the key's position and walks the table
 * (`pos`, `pos + 1`, … wrapping) through the key's preference order of distinct endpoints. The
 * first endpoint that is pickable, under its in-flight cap, not skipped by this call (tried, or
 * refused by keel) and, with `balanceFactor`, under its bounded load, wins.
 *
 * Walking the same order for every reason an endpoint is passed over is what keeps the mapping
 * consistent: an ejected endpoint's keys go to their next choice and come back when it returns,
 * and a retried keyed call lands on the key's second choice, the one it would fail over to anyway.
 */
export abstract class HashPicker implements Picker {
  readonly endpoints: readonly PickerEndpoint[]
  /** Endpoint index at each position of the cycle (ring entries or Maglev slots). */
  readonly table: Uint32Array
  /** `balanceFactor × static weight` per endpoint, or undefined without bounded load. */
  readonly #bound: Float64Array | undefined
  readonly #totalWeight: number
  /** Per-walk visit marks (a stamp per walk, so nothing is cleared or allocated per pick). */
  readonly #seen: Uint32Array
  #stamp = 0

  constructor(endpoints: readonly PickerEndpoint[], table: Uint32Array, balanceFactor: number | undefined) {
    this.endpoints = endpoints
    this.table = table
    this.#seen = new Uint32Array(endpoints.length)
    let total = 0
    for (const e of endpoints) total += e.endpoint.weight
    this.#totalWeight = total
    if (balanceFactor === undefined) {
      this.#bound = undefined
    } else {
      const bound = new Float64Array(endpoints.length)
      for (let i = 0; i < endpoints.length; i++) bound[i] = balanceFactor * endpoints[i]!.endpoint.weight
      this.#bound = bound
    }
  }

  abstract pick(context: PickContext): PickerEndpoint | undefined

  /**
   * Bounded load (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads",
   * 2016; Envoy `hash_balance_factor`): endpoint `i` may take the attempt when, counting it, its
   * in-flight stays within ⌈factor × (total in flight + 1) × weightᵢ / total weight⌉ — with equal
   * weights, ⌈factor × mean⌉ where the mean counts the new attempt. Envoy admits a host *at* its
   * slots (one over, after the pick); keel keeps the paper's strict capacity.
   */
  #slots(i: number, context: PickContext): number {
    return Math.ceil((this.#bound![i]! * (context.totalInFlight + 1)) / this.#totalWeight)
  }

  /** The key's pick, starting at position `pos` of the table. */
  pickAt(context: PickContext, pos: number): PickerEndpoint | undefined {
    const i = this.table[pos]!
    const e = this.endpoints[i]!
    if (
      e.pickable &&
      e.inFlight < context.maxInFlight &&
      (this.#bound === undefined || e.inFlight < this.#slots(i, context)) &&
      !context.skipped(e)
    ) {
      return e
    }
    return this.#walk(context, pos)
  }

  /**
   * Walks the key's preference order past `pos`. When bounded load leaves every usable endpoint
   * over its bound (possible only when unusable ones hold attempts or capacity), the least
   * loaded usable one, relative to its bound, is taken, as Envoy does.
   */
  #walk(context: PickContext, pos: number): PickerEndpoint | undefined {
    const table = this.table
    const endpoints = this.endpoints
    const bound = this.#bound
    const seen = this.#seen
    const size = table.length
    const n = endpoints.length
    let stamp = ++this.#stamp
    if (stamp === 0xffffffff) {
      seen.fill(0)
      stamp = this.#stamp = 1
    }
    let best: PickerEndpoint | undefined
    let bestLoad = Number.POSITIVE_INFINITY
    let distinct = 0
    for (let step = 0; step < size; step++) {
      const i = table[pos]!
      if (seen[i] !== stamp) {
        seen[i] = stamp
        const e = endpoints[i]!
        if (e.pickable && e.inFlight < context.maxInFlight && !context.skipped(e)) {
          if (bound === undefined) return e
          const slots = this.#slots(i, context)
          if (e.inFlight < slots) return e
          const load = (e.inFlight + 1) / slots
          if (load < bestLoad) {
            best = e
            bestLoad = load
          }
        }
        if (++distinct === n) break
      }
      pos = pos + 1 === size ? 0 : pos + 1
    }
    return best
  }
}

/** Picks from nothing (a level without members). */
export const EMPTY_PICKER: Picker = Object.freeze({ pick: () => undefined })

/**
 * The endpoints in id order. Levels already sort members by id; sorting here too keeps a picker
 * built directly (tests, custom wiring) independent of the order it was given.
 */
export function sortedById(endpoints: readonly PickerEndpoint[]): readonly PickerEndpoint[] {
  for (let i = 1; i < endpoints.length; i++) {
    if (endpoints[i - 1]!.endpoint.id > endpoints[i]!.endpoint.id) {
      return [...endpoints].sort((a, b) => (a.endpoint.id < b.endpoint.id ? -1 : 1))
    }
  }
  return endpoints
}

/** Validates `balanceFactor` (Envoy's `hash_balance_factor` is a percentage ≥ 100; here a ratio ≥ 1). */
export function checkBalanceFactor(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  return requireNumber(option, value, { min: 1 })
}
