import type { Random } from '../internal/random.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { bestUsable, otherIndex } from './candidates.ts'

/**
 * Power of two choices on PeakEWMA (Finagle `p2cPeakEwma`, Linkerd, tower `p2c` + `PeakEwma`):
 * draw two distinct endpoints at random and take the one with the lower cost, latency estimate ×
 * (in-flight + 1) ÷ weight — the expected wait for one more request. Two random candidates avoid
 * the herd behaviour of "always the least loaded" while still steering away from slow and busy
 * endpoints: an endpoint loses every comparison it is drawn into while it is the costlier one.
 *
 * The estimate (`load/peak-ewma.ts`) decays toward 0 between samples, so an endpoint that stopped
 * getting traffic because it was slow is probed again; failures are charged a penalty latency so
 * fast errors never look fast. The weight divides the cost as in tower's `Weighted` load: an
 * endpoint of weight 2 is treated as having twice the capacity (it wins against an equal one
 * until it has twice the requests in flight); slow start lowers it while an endpoint ramps up.
 *
 * The clock is read once per call by the balancer and passed in `context.now`.
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
    const max = context.maxInFlight
    if (n < 2) {
      const only = endpoints[0]
      return only !== undefined && only.inFlight < max && !context.skipped(only) ? only : undefined
    }
    const i = Math.floor(this.#random() * n)
    const j = otherIndex(this.#random, n, i)
    const a = endpoints[i]!
    const b = endpoints[j]!
    const aOk = a.inFlight < max && !context.skipped(a)
    const bOk = b.inFlight < max && !context.skipped(b)
    const now = context.now
    if (aOk && bOk) {
      // b if strictly cheaper, a otherwise; as index arithmetic, since which one wins is a coin
      // toss for the branch predictor.
      const costA = a.latencyMs(now) * (a.inFlight + 1) * b.weight
      const costB = b.latencyMs(now) * (b.inFlight + 1) * a.weight
      return endpoints[i + (j - i) * +(costB < costA)]
    }
    if (!aOk && !bOk) return bestUsable(endpoints, context, i, cheaper)
    // One candidate is out (tried by this call, or at its cap): draw one replacement.
    const kept = aOk ? a : b
    const c = endpoints[Math.floor(this.#random() * n)]!
    if (c !== kept && c.inFlight < max && !context.skipped(c)) return cheaper(c, kept, now) ? c : kept
    return kept
  }
}

/** Whether `a` costs strictly less than `b` at `now` (cross-multiplied by the weights). */
function cheaper(a: PickerEndpoint, b: PickerEndpoint, now: number): boolean {
  return a.latencyMs(now) * (a.inFlight + 1) * b.weight < b.latencyMs(now) * (b.inFlight + 1) * a.weight
}

/** Power of two choices on PeakEWMA latency × (in-flight + 1) ÷ weight: keel's default picker. */
export function p2cEwma(): PickerFactory {
  return {
    name: 'p2c-ewma',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      new P2cEwmaPicker(endpoints, context.random),
  }
}
