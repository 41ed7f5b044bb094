import type { PickerEndpoint } from '../model/picker.ts'

/**
 * Walker's alias method in Vose's numerically stable form ("A Linear Algorithm For Generating
 * Random Numbers With a Given Distribution", 1991): O(n) to build, O(1) per draw, so weighted
 * random choice costs the same at 1,000 endpoints as at 10.
 *
 * To draw with u in [0, 1): x = u × n; column c = ⌊x⌋; keep c if x − c < keep[c], else take
 * alias[c] — one random number per draw. Pickers write that inline: a call taking u as an
 * argument, if V8 does not inline it, boxes u on every pick.
 */
export class AliasTable {
  readonly n: number
  /** Chance of keeping column i rather than its alias, scaled to [0, 1]. */
  readonly keep: Float64Array
  readonly alias: Int32Array

  constructor(endpoints: readonly PickerEndpoint[]) {
    const n = endpoints.length
    this.n = n
    this.keep = new Float64Array(n)
    this.alias = new Int32Array(n)
    let total = 0
    for (const e of endpoints) total += e.weight
    const scaled = new Float64Array(n)
    const small: number[] = []
    const large: number[] = []
    for (let i = 0; i < n; i++) {
      scaled[i] = (endpoints[i]!.weight * n) / total
      ;(scaled[i]! < 1 ? small : large).push(i)
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!
      const l = large.pop()!
      this.keep[s] = scaled[s]!
      this.alias[s] = l
      scaled[l] = scaled[l]! + scaled[s]! - 1
      ;(scaled[l]! < 1 ? small : large).push(l)
    }
    // Whatever is left is 1 up to rounding.
    for (const i of large) this.keep[i] = 1
    for (const i of small) this.keep[i] = 1
  }
}
