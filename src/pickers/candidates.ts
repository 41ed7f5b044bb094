import type { Random } from '../internal/random.ts'
import type { PickContext, PickerEndpoint } from '../model/picker.ts'

/**
 * An index drawn uniformly among the `n` − 1 indices other than `i` (n ≥ 2): the second of two
 * distinct candidates in the power-of-two-choices pickers. A draw j ≥ i moves up one; written
 * without a branch, since it is taken half the time at random and a mispredicted branch costs
 * more than the pick.
 */
export function otherIndex(random: Random, n: number, i: number): number {
  const j = Math.floor(random() * (n - 1))
  return j + ((i - j - 1) >>> 31)
}

/**
 * Every drawn candidate was out (tried by this call, or at its in-flight cap): the best usable
 * endpoint by `better`, scanning every endpoint from `start`, the first found on a tie. Off the
 * common path, so one shared loop serves every picker that compares candidates.
 */
export function bestUsable(
  endpoints: readonly PickerEndpoint[],
  context: PickContext,
  start: number,
  better: (a: PickerEndpoint, b: PickerEndpoint, now: number) => boolean,
): PickerEndpoint | undefined {
  const n = endpoints.length
  const max = context.maxInFlight
  const now = context.now
  let best: PickerEndpoint | undefined
  for (let k = 0; k < n; k++) {
    const e = endpoints[start + k < n ? start + k : start + k - n]!
    if (e.inFlight < max && !context.skipped(e) && (best === undefined || better(e, best, now))) best = e
  }
  return best
}
