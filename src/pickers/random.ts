import type { Random } from '../internal/random.ts'
import { AliasTable } from './alias-table.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from './picker.ts'
import { allWeightsEqual } from './weights.ts'

/**
 * Uniform random choice (Envoy RANDOM, HAProxy `balance random`), weighted by an alias table when
 * effective weights differ. No shared cursor and no feedback, so it has no herd behaviour and
 * nothing to synchronise across a fleet; it does nothing to avoid slow or busy endpoints.
 *
 * When the drawn endpoint is skipped (tried by this call, or at its in-flight cap) a second draw
 * is made; if that is skipped too, the first usable endpoint after it in order is taken.
 */
class RandomPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random
  readonly #table: AliasTable | undefined

  constructor(endpoints: readonly PickerEndpoint[], random: Random) {
    this.#endpoints = endpoints
    this.#random = random
    this.#table = allWeightsEqual(endpoints) ? undefined : new AliasTable(endpoints)
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    if (n === 0) return undefined
    const max = context.maxInFlight
    let i = this.#draw(n)
    let e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    i = this.#draw(n)
    e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    for (let k = 1; k < n; k++) {
      const j = i + k < n ? i + k : i + k - n
      e = endpoints[j]!
      if (e.inFlight < max && !context.skipped(e)) return e
    }
    return undefined
  }

  #draw(n: number): number {
    const table = this.#table
    const x = this.#random() * n
    const c = Math.floor(x)
    return table === undefined || x - c < table.keep[c]! ? c : table.alias[c]!
  }
}

/** Uniform random choice, weighted when effective weights differ. */
export function randomPicker(): PickerFactory {
  return {
    name: 'random',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      new RandomPicker(endpoints, context.random),
  }
}
