import type { Random } from '../internal/random.ts'
import { checkNumber, checkObject, rejectUnknownKeys } from '../internal/validate.ts'
import { AliasTable } from './alias-table.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from './picker.ts'
import { allWeightsEqual } from './weights.ts'

/** Options of `leastRequest()`. */
export interface LeastRequestOptions {
  /**
   * Candidates drawn per pick; the least loaded of them wins. 2 is the power of two choices;
   * more choices track the least loaded endpoint more closely and herd more. From 2 to 10
   * (gRPC A48 caps `choice_count` at 10). @default 2
   */
  readonly choices?: number
}

/** True when `a` carries less load per unit of weight than `b` (in-flight ÷ weight, no division). */
function lighter(a: PickerEndpoint, b: PickerEndpoint): boolean {
  return a.inFlight * b.weight < b.inFlight * a.weight
}

/**
 * Least request by power of `choices` choices (Envoy LEAST_REQUEST, gRPC A48 `least_request`,
 * Mitzenmacher's "power of two choices"): draw `choices` candidates at random and take the one
 * with the fewest attempts in flight, the earliest drawn on a tie.
 *
 * With equal weights the candidates are distinct endpoints drawn uniformly. With unequal effective
 * weights (static weights, slow start) they are drawn in proportion to weight, with replacement,
 * and compared by in-flight ÷ weight: an idle set is then split exactly by weight (every tie goes
 * to the first, weighted draw) and a busy one keeps in-flight proportional to weight — what
 * Envoy's `weight / (active_requests + 1)` bias achieves with its EDF scheduler. Comparing by that
 * ratio under *uniform* draws instead would send all light traffic to the heaviest endpoint and
 * starve one ramping up under slow start.
 */
class LeastRequestPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random
  readonly #choices: number
  readonly #table: AliasTable | undefined
  /** Indices drawn during one pick (distinct uniform draws with more than two choices). */
  readonly #drawn: Int32Array
  /** The common case, decided once: equal weights, two choices, more than two endpoints. */
  readonly #two: boolean

  constructor(endpoints: readonly PickerEndpoint[], random: Random, choices: number) {
    this.#endpoints = endpoints
    this.#random = random
    this.#choices = choices
    this.#table = allWeightsEqual(endpoints) ? undefined : new AliasTable(endpoints)
    this.#drawn = new Int32Array(choices)
    this.#two = this.#table === undefined && choices === 2 && endpoints.length > 2
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const n = this.#endpoints.length
    if (this.#two) return this.#pickTwo(context, n)
    if (n === 0) return undefined
    if (this.#table !== undefined) return this.#weighted(context, this.#table)
    if (n <= this.#choices) return this.#scan(context, Math.floor(this.#random() * n))
    return this.#distinct(context, n)
  }

  #pickTwo(context: PickContext, n: number): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const max = context.maxInFlight
    const i = Math.floor(this.#random() * n)
    // The second is drawn among the n − 1 others: j ≥ i moves up one. Written without a branch:
    // it is taken half the time at random, and a mispredicted branch costs more than the pick.
    let j = Math.floor(this.#random() * (n - 1))
    j += (i - j - 1) >>> 31
    const a = endpoints[i]!
    const b = endpoints[j]!
    const aOk = a.inFlight < max && !context.skipped(a)
    const bOk = b.inFlight < max && !context.skipped(b)
    // The less loaded, a on a tie; as index arithmetic (in-flight counts are small integers),
    // since which one wins is a coin toss for the branch predictor.
    if (aOk && bOk) return endpoints[i + (j - i) * ((b.inFlight - a.inFlight) >>> 31)]!
    if (!aOk && !bOk) return this.#scan(context, i)
    // One candidate is out: draw one replacement to compare against.
    const kept = aOk ? a : b
    const c = endpoints[Math.floor(this.#random() * n)]!
    if (c !== kept && c.inFlight < max && !context.skipped(c)) return c.inFlight < kept.inFlight ? c : kept
    return kept
  }

  #distinct(context: PickContext, n: number): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const drawn = this.#drawn
    const max = context.maxInFlight
    let best: PickerEndpoint | undefined
    for (let d = 0; d < this.#choices; d++) {
      let k = 0
      let repeat = true
      while (repeat) {
        k = Math.floor(this.#random() * n)
        repeat = false
        for (let p = 0; p < d; p++) if (drawn[p] === k) repeat = true
      }
      drawn[d] = k
      const e = endpoints[k]!
      if (e.inFlight < max && !context.skipped(e) && (best === undefined || e.inFlight < best.inFlight)) best = e
    }
    return best ?? this.#scan(context, drawn[0]!)
  }

  #weighted(context: PickContext, table: AliasTable): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const max = context.maxInFlight
    let best: PickerEndpoint | undefined
    let first = -1
    const n = endpoints.length
    for (let d = 0; d < this.#choices; d++) {
      // An alias-table draw (see AliasTable).
      const x = this.#random() * n
      const c = Math.floor(x)
      const k = x - c < table.keep[c]! ? c : table.alias[c]!
      if (first < 0) first = k
      const e = endpoints[k]!
      if (e.inFlight < max && !context.skipped(e) && (best === undefined || lighter(e, best))) best = e
    }
    return best ?? this.#scan(context, first)
  }

  /** Every candidate was out: the least loaded usable endpoint, scanning from `start`. */
  #scan(context: PickContext, start: number): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    const max = context.maxInFlight
    let best: PickerEndpoint | undefined
    for (let k = 0; k < n; k++) {
      const e = endpoints[start + k < n ? start + k : start + k - n]!
      if (e.inFlight < max && !context.skipped(e) && (best === undefined || lighter(e, best))) best = e
    }
    return best
  }
}

/** Least request by power of `choices` choices (default two), weighted when weights differ. */
export function leastRequest(options?: LeastRequestOptions): PickerFactory {
  const o = checkObject('leastRequest', options)
  if (o !== undefined) rejectUnknownKeys('leastRequest', o, ['choices'])
  const choices = checkNumber('leastRequest.choices', o?.choices, { integer: true, min: 2, max: 10 }) ?? 2
  return {
    name: 'least-request',
    build: (endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker =>
      new LeastRequestPicker(endpoints, context.random, choices),
  }
}
