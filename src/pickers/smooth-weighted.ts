import type { PickContext, Picker, PickerEndpoint } from '../model/picker.ts'

/** Virtual time past which every deadline is shifted back (keeps turn counts exact in doubles). */
const RENORMALISE_AT = 2 ** 20

/**
 * Smooth weighted round-robin as an earliest-deadline-first schedule (Envoy's `EdfScheduler`,
 * which backs its weighted ROUND_ROBIN and LEAST_REQUEST): endpoint i's k-th turn falls due at
 * virtual time (k − ½) / wᵢ and each pick takes the earliest due turn, ties to the earlier slot.
 *
 * - Exact proportions: with integer weights the turns due in (c − 1, c] are exactly wᵢ per
 *   endpoint, so every W = Σwᵢ consecutive picks hold wᵢ picks of endpoint i.
 * - No bursts: turns of one endpoint are 1/wᵢ apart and every other endpoint has a turn in each
 *   unit of virtual time, so no endpoint runs more than its weight in a row; the half-period
 *   offset interleaves like nginx's smooth WRR (1:2:3 gives c b a c b c, nginx's own sequence).
 * - O(log n) per pick on a binary heap; deadlines are recomputed as turns ÷ weight, never
 *   accumulated, so floating-point error cannot drift a tie across a cycle boundary.
 *
 * A skipped endpoint (tried by this call, or at `maxInFlightPerEndpoint`) loses its turn, as a
 * round-robin cursor moves past it, and rejoins the schedule at the current virtual time: an
 * endpoint held at its cap does not bank turns and burst when it frees up.
 */
export class SmoothWeightedPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  readonly #weights: Float64Array
  /** Turns taken, offset by ½: the next turn is due at `turns / weight`. */
  readonly #turns: Float64Array
  readonly #due: Float64Array
  /** Min-heap of slots ordered by (due, slot). */
  readonly #heap: Int32Array
  /** Scratch for slots taken off the heap while skipped during one pick. */
  readonly #held: Int32Array
  #size: number
  /** Virtual time of the last pick. */
  #now = 0

  /**
   * `carried`: the picker this one replaces; endpoints it shares keep their place in the
   * schedule (time to their next turn, rescaled when their weight changed). `offset`: picks to
   * skip ahead, so a fleet of clients does not start in step.
   */
  constructor(endpoints: readonly PickerEndpoint[], carried: SmoothWeightedPicker | undefined, offset: number) {
    const n = endpoints.length
    this.#endpoints = endpoints
    this.#weights = new Float64Array(n)
    this.#turns = new Float64Array(n)
    this.#due = new Float64Array(n)
    this.#heap = new Int32Array(n)
    this.#held = new Int32Array(n)
    this.#size = n
    const previous = carried === undefined ? undefined : carried.#schedule()
    for (let i = 0; i < n; i++) {
      const w = endpoints[i]!.weight
      this.#weights[i] = w
      const before = previous?.get(endpoints[i]!)
      // Time to the next turn is kept (and stretched or shrunk with the weight); a newcomer's
      // first turn is half its period away, as at a fresh start.
      const due = before === undefined ? 0.5 / w : (before.wait * before.weight) / w
      this.#turns[i] = due * w
      this.#due[i] = due
      this.#heap[i] = i
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#down(i)
    for (let k = 0; k < offset; k++) this.#take()
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const heap = this.#heap
    const max = context.maxInFlight
    let held = 0
    let found: PickerEndpoint | undefined
    while (this.#size > 0) {
      const slot = heap[0]!
      const e = endpoints[slot]!
      if (e.inFlight < max && !context.skipped(e)) {
        found = e
        this.#take()
        break
      }
      // Off the heap until this pick is over.
      this.#removeRoot()
      this.#held[held++] = slot
    }
    for (let h = 0; h < held; h++) this.#requeue(this.#held[h]!)
    return found
  }

  /**
   * Puts back a slot that was skipped: its turn is spent, and its next one comes no sooner than
   * half a period after the current pick (as a newcomer's would), so it cannot bank turns.
   */
  #requeue(slot: number): void {
    const w = this.#weights[slot]!
    const due = Math.max((this.#turns[slot]! + 1) / w, this.#now + 0.5 / w)
    this.#turns[slot] = due * w
    this.#due[slot] = due
    this.#push(slot)
  }

  /** The endpoint the next pick would return if nothing is skipped. */
  nextEndpoint(): PickerEndpoint | undefined {
    return this.#size === 0 ? undefined : this.#endpoints[this.#heap[0]!]
  }

  /** Takes the next turn, skipping nothing, and returns its slot (to tabulate a cycle). */
  takeSlot(): number {
    const slot = this.#heap[0]!
    this.#take()
    return slot
  }

  /** Each endpoint's time to its next turn and its weight, for the picker that replaces this one. */
  #schedule(): Map<PickerEndpoint, { wait: number; weight: number }> {
    const map = new Map<PickerEndpoint, { wait: number; weight: number }>()
    for (let i = 0; i < this.#endpoints.length; i++) {
      map.set(this.#endpoints[i]!, { wait: Math.max(0, this.#due[i]! - this.#now), weight: this.#weights[i]! })
    }
    return map
  }

  /** Gives the root its turn. */
  #take(): void {
    const slot = this.#heap[0]!
    this.#now = this.#due[slot]!
    this.#turns[slot]! += 1
    this.#due[slot] = this.#turns[slot]! / this.#weights[slot]!
    this.#down(0)
    if (this.#due[this.#heap[0]!]! >= RENORMALISE_AT) this.#renormalise()
  }

  /**
   * Moves every deadline back by a whole number of time units. Turn counts drop by a multiple of
   * their weight, so integer weights keep exact half-integer counts and ties stay ties.
   */
  #renormalise(): void {
    const shift = Math.floor(this.#due[this.#heap[0]!]!) - 1
    this.#now -= shift
    for (let i = 0; i < this.#endpoints.length; i++) {
      this.#turns[i]! -= shift * this.#weights[i]!
      this.#due[i] = this.#turns[i]! / this.#weights[i]!
    }
    for (let i = (this.#size >> 1) - 1; i >= 0; i--) this.#down(i)
  }

  #removeRoot(): void {
    const last = this.#heap[--this.#size]!
    if (this.#size === 0) return
    this.#heap[0] = last
    this.#down(0)
  }

  #push(slot: number): void {
    const heap = this.#heap
    const due = this.#due
    const d = due[slot]!
    let i = this.#size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      const dp = due[p]!
      // Ordered by (due, slot): the parent stays above unless the slot is strictly earlier.
      if (dp < d || (dp === d && p < slot)) break
      heap[i] = p
      i = parent
    }
    heap[i] = slot
  }

  #down(i: number): void {
    const heap = this.#heap
    const due = this.#due
    const size = this.#size
    const slot = heap[i]!
    const d = due[slot]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= size) break
      let c = heap[child]!
      let dc = due[c]!
      const right = child + 1
      if (right < size) {
        const r = heap[right]!
        const dr = due[r]!
        if (dr < dc || (dr === dc && r < c)) {
          child = right
          c = r
          dc = dr
        }
      }
      if (dc > d || (dc === d && c > slot)) break
      heap[i] = c
      i = child
    }
    heap[i] = slot
  }
}
