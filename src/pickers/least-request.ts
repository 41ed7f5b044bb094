import type { Random } from '../internal/random.ts'
import { checkNumber, checkObject, rejectUnknownKeys } from '../internal/validate.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { AliasTable } from './alias-table.ts'
import { bestUsable, otherIndex } from './candidates.ts'
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

/*
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
 *
 * One class per case, so each has a small `pick` of its own for V8 to optimise: a shared `pick`
 * trained on one case can run out of inlining budget for the other, and a random number returned
 * by a call that is not inlined is boxed (16 bytes per pick, measured).
 */

/** True when `a` carries less load per unit of weight than `b` (in-flight ÷ weight, no division). */
function lighter(a: PickerEndpoint, b: PickerEndpoint): boolean {
  return a.inFlight * b.weight < b.inFlight * a.weight
}

/** Equal weights, two choices, three endpoints or more: the common case. */
class TwoChoicesPicker implements Picker {
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
    const i = Math.floor(this.#random() * n)
    const j = otherIndex(this.#random, n, i)
    const a = endpoints[i]!
    const b = endpoints[j]!
    const aOk = a.inFlight < max && !context.skipped(a)
    const bOk = b.inFlight < max && !context.skipped(b)
    // The less loaded, a on a tie; as index arithmetic (in-flight counts are small integers),
    // since which one wins is a coin toss for the branch predictor.
    if (aOk && bOk) return endpoints[i + (j - i) * ((b.inFlight - a.inFlight) >>> 31)]!
    if (!aOk && !bOk) return bestUsable(endpoints, context, i, lighter)
    // One candidate is out: draw one replacement to compare against.
    const kept = aOk ? a : b
    const c = endpoints[Math.floor(this.#random() * n)]!
    if (c !== kept && c.inFlight < max && !context.skipped(c)) return c.inFlight < kept.inFlight ? c : kept
    return kept
  }
}

/** Equal weights, `choices` distinct candidates (every endpoint when there are no more). */
class ManyChoicesPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random
  readonly #choices: number
  /** Indices drawn during one pick. */
  readonly #drawn: Int32Array

  constructor(endpoints: readonly PickerEndpoint[], random: Random, choices: number) {
    this.#endpoints = endpoints
    this.#random = random
    this.#choices = choices
    this.#drawn = new Int32Array(choices)
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    if (n === 0) return undefined
    if (n <= this.#choices) return bestUsable(endpoints, context, Math.floor(this.#random() * n), lighter)
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
    return best ?? bestUsable(endpoints, context, drawn[0]!, lighter)
  }
}

/** Unequal effective weights: candidates drawn by weight, compared by in-flight ÷ weight. */
class WeightedChoicesPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #random: Random
  readonly #choices: number
  readonly #table: AliasTable

  constructor(endpoints: readonly PickerEndpoint[], random: Random, choices: number) {
    this.#endpoints = endpoints
    this.#random = random
    this.#choices = choices
    this.#table = new AliasTable(endpoints)
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const table = this.#table
    const n = endpoints.length
    const max = context.maxInFlight
    let best: PickerEndpoint | undefined
    let first = -1
    for (let d = 0; d < this.#choices; d++) {
      // An alias-table draw (see AliasTable).
      const x = this.#random() * n
      const c = Math.floor(x)
      const k = x - c < table.keep[c]! ? c : table.alias[c]!
      if (first < 0) first = k
      const e = endpoints[k]!
      if (e.inFlight < max && !context.skipped(e) && (best === undefined || lighter(e, best))) best = e
    }
    return best ?? bestUsable(endpoints, context, first, lighter)
  }
}

/** Least request by power of `choices` choices (default two), weighted when weights differ. */
export function leastRequest(options?: LeastRequestOptions): PickerFactory {
  const o = checkObject('leastRequest', options)
  if (o !== undefined) rejectUnknownKeys('leastRequest', o, ['choices'])
  const choices = checkNumber('leastRequest.choices', o?.choices, { integer: true, min: 2, max: 10 }) ?? 2
  return {
    name: 'least-request',
    build(endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker {
      if (!allWeightsEqual(endpoints)) return new WeightedChoicesPicker(endpoints, context.random, choices)
      if (choices === 2 && endpoints.length > 2) return new TwoChoicesPicker(endpoints, context.random)
      return new ManyChoicesPicker(endpoints, context.random, choices)
    },
  }
}
