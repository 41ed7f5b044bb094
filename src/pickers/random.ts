import type { Random } from '../internal/random.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { AliasTable } from './alias-table.ts'
import { allWeightsEqual } from './weights.ts'

/*
 * Uniform random choice (Envoy RANDOM, HAProxy `balance random`), weighted by an alias table when
 * effective weights differ. No shared cursor and no feedback, so it has no herd behaviour and
 * nothing to synchronise across a fleet; it does nothing to avoid slow or busy endpoints.
 *
 * When the drawn endpoint is skipped (tried by this call, or at its in-flight cap) a second draw
 * is made; if that is skipped too, the first usable endpoint after it in order is taken. One class
 * per case, each with a small `pick` of its own for V8 to optimise (see `least-request.ts`).
 */

/** Both draws were out: the first usable endpoint after `from`, in order. */
function next(endpoints: readonly PickerEndpoint[], context: PickContext, from: number): PickerEndpoint | undefined {
  const n = endpoints.length
  for (let k = 1; k < n; k++) {
    const e = endpoints[from + k < n ? from + k : from + k - n]!
    if (e.inFlight < context.maxInFlight && !context.skipped(e)) return e
  }
  return undefined
}

class UniformPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random

  constructor(endpoints: readonly PickerEndpoint[], random: Random) {
    this.#endpoints = endpoints
    this.#random = random
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    if (n === 0) return undefined
    const max = context.maxInFlight
    let i = Math.floor(this.#random() * n)
    let e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    i = Math.floor(this.#random() * n)
    e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    return next(endpoints, context, i)
  }
}

class WeightedPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random
  readonly #table: AliasTable

  constructor(endpoints: readonly PickerEndpoint[], random: Random) {
    this.#endpoints = endpoints
    this.#random = random
    this.#table = new AliasTable(endpoints)
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const max = context.maxInFlight
    let i = this.#draw(endpoints.length)
    let e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    i = this.#draw(endpoints.length)
    e = endpoints[i]!
    if (e.inFlight < max && !context.skipped(e)) return e
    return next(endpoints, context, i)
  }

  /** An alias-table draw (see AliasTable). */
  #draw(n: number): number {
    const table = this.#table
    const x = this.#random() * n
    const c = Math.floor(x)
    return x - c < table.keep[c]! ? c : table.alias[c]!
  }
}

/** Uniform random choice, weighted when effective weights differ. */
export function randomPicker(): PickerFactory {
  return {
    name: 'random',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      allWeightsEqual(endpoints)
        ? new UniformPicker(endpoints, context.random)
        : new WeightedPicker(endpoints, context.random),
  }
}
