import type { Random } from '../internal/random.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from './picker.ts'

/**
 * Power of two choices on PeakEWMA (Finagle `p2cPeakEwma`, Linkerd, tower `p2c` + `PeakEwma`):
 * draw two endpoints at random and take the one with the lower cost, latency estimate ×
 * (in-flight + 1) ÷ weight. Two random candidates avoid the herd behaviour of "always the
 * least loaded" while still steering away from slow and busy endpoints.
 */
class P2cEwmaPicker implements Picker {
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
    if (n === 1) {
      const only = endpoints[0]!
      return only.inFlight < max && !context.skipped(only) ? only : undefined
    }
    const i = Math.floor(this.#random() * n)
    let j = Math.floor(this.#random() * (n - 1))
    if (j >= i) j++
    const a = endpoints[i]!
    const b = endpoints[j]!
    const aOk = a.inFlight < max && !context.skipped(a)
    const bOk = b.inFlight < max && !context.skipped(b)
    if (aOk && bOk) return cost(b, context.now) < cost(a, context.now) ? b : a
    if (aOk) return a
    if (bOk) return b
    return this.#scan(context)
  }

  /** Both draws were unusable (skipped or at the cap): the best usable endpoint, if any. */
  #scan(context: PickContext): PickerEndpoint | undefined {
    let best: PickerEndpoint | undefined
    let bestCost = Number.POSITIVE_INFINITY
    for (const e of this.#endpoints) {
      if (e.inFlight >= context.maxInFlight || context.skipped(e)) continue
      const c = cost(e, context.now)
      if (c < bestCost) {
        best = e
        bestCost = c
      }
    }
    return best
  }
}

function cost(e: PickerEndpoint, now: number): number {
  return (e.latencyMs(now) * (e.inFlight + 1)) / e.weight
}

export function p2cEwma(): PickerFactory {
  return {
    name: 'p2c-ewma',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      new P2cEwmaPicker(endpoints, context.random),
  }
}
