import type { Random } from '../internal/random.ts'
import { NOISE_DEVIATIONS, NOISE_FLOOR_MS, NOISE_RATIO } from '../model/noise-band.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { bestUsable, otherIndex } from './candidates.ts'

/**
 * Power of two choices on PeakEWMA (Finagle `p2cPeakEwma`, Linkerd, tower `p2c` + `PeakEwma`),
 * with latencies inside the noise band read as equal: draw two distinct endpoints at random, then
 *
 * - if their latency estimates differ by less than the noise band (the higher under 2 × the lower
 *   + 1 ms, or apart by less than 2 mean deviations of the quieter one, `model/noise-band.ts`), or
 *   one of them is still a cold-start guess, take the one with fewer requests in flight ÷ weight,
 *   the first drawn (a coin toss) on a tie — Envoy's least-request with active-request bias 1,
 *   Prequal's requests-in-flight rule among replicas it cannot tell apart by latency;
 * - otherwise take the one with the lower cost, latency × (in-flight + 1) ÷ weight — Finagle's
 *   PeakEWMA cost, the expected wait for one more request.
 *
 * Comparing estimates that differ only by noise is what made plain PeakEWMA rank identical
 * replicas by whichever drew the last slow answer: at one call at a time (every in-flight count
 * 0) the cost is the latency alone, and one endpoint sat out for seconds. Inside the band, in-flight
 * counts are the signal that is not noise. Answers that came back without doing the work (`busy`,
 * see `load/peak-ewma.ts`) count as requests in flight in both rules, so a fast failure or an
 * instant 404 never makes an endpoint look idle.
 *
 * The weight divides both as in tower's `Weighted` load and Envoy's `weight / (active + 1)`: an
 * endpoint of weight 2 is treated as having twice the capacity; slow start lowers it while an
 * endpoint ramps up. The clock is read once per call by the balancer and passed in `context.now`.
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
    // b if strictly better, a otherwise; as index arithmetic, since which one wins is a coin toss
    // for the branch predictor.
    if (aOk && bOk) return endpoints[i + (j - i) * +better(b, a, now)]
    if (!aOk && !bOk) return bestUsable(endpoints, context, i, better)
    // One candidate is out (tried by this call, or at its cap): draw one replacement.
    const kept = aOk ? a : b
    const c = endpoints[Math.floor(this.#random() * n)]!
    if (c !== kept && c.inFlight < max && !context.skipped(c)) return better(c, kept, now) ? c : kept
    return kept
  }
}

/**
 * Whether `a` is strictly better than `b` at `now`: fewer requests in flight ÷ weight when their
 * latency estimates are inside the noise band of each other, lower latency × requests ÷ weight
 * otherwise (cross-multiplied by the weights, no division).
 */
export function better(a: PickerEndpoint, b: PickerEndpoint, now: number): boolean {
  const la = a.load.read(now)
  const lb = b.load.read(now)
  // An estimate no answer has refreshed for its staleness horizon, while nothing is in flight
  // there, is compared as a guess, with no early answers still counted busy: the endpoint takes
  // one request, whose answer measures it again (`PeakEwma.stale`). Its busy count decays with
  // its estimate as time constant, which a failure charge raised: kept, a few hundredths of a
  // request lost it every tie for seconds after a replica that refused connections came back.
  const sa = a.inFlight === 0 && a.load.stale(now, lb)
  const sb = b.inFlight === 0 && b.load.stale(now, la)
  const qa = (a.inFlight + 1 + (sa ? 0 : a.load.busy(now))) * b.weight
  const qb = (b.inFlight + 1 + (sb ? 0 : b.load.busy(now))) * a.weight
  // Within the band both ways: the higher is under NOISE_RATIO × the lower + NOISE_FLOOR_MS.
  // An estimate that is still a guess (no answer yet) is not a latency: compare by requests.
  const spread = NOISE_DEVIATIONS * Math.min(a.load.deviationMs, b.load.deviationMs)
  const band = +(
    a.load.guess ||
    b.load.guess ||
    sa ||
    sb ||
    (la < NOISE_RATIO * lb + NOISE_FLOOR_MS && lb < NOISE_RATIO * la + NOISE_FLOOR_MS) ||
    Math.abs(la - lb) < spread
  )
  return band * (qb - qa) + (1 - band) * (lb * qb - la * qa) > 0
}

/**
 * Power of two choices on PeakEWMA latency, by requests in flight among endpoints whose
 * latencies are indistinguishable and by latency × (in-flight + 1) ÷ weight otherwise: keel's
 * default picker.
 */
export function p2cEwma(): PickerFactory {
  return {
    name: 'p2c-ewma',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      new P2cEwmaPicker(endpoints, context.random),
  }
}
