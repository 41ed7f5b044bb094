import type { ResolvedBudget } from './budget-options.ts'

const BUCKETS = 10

/**
 * The retry budget of Finagle (`RetryBudget`) and tower (`TpsBudget`): over a sliding window,
 * retries may not exceed `minPerSecond × window` (a floor for low traffic) plus `percent` of the
 * calls made. So a total outage multiplies load by at most 1 + percent/100 (plus the floor)
 * instead of by 1 + retries. The window is split into 10 buckets on the injected clock; a
 * deposit costs an index computation and an increment.
 */
export class RetryBudget {
  readonly #bucketMs: number
  readonly #ratio: number
  readonly #reserve: number
  readonly #deposits = new Float64Array(BUCKETS)
  readonly #withdrawals = new Float64Array(BUCKETS)
  #epoch = Number.NEGATIVE_INFINITY
  #depositSum = 0
  #withdrawSum = 0

  constructor(options: ResolvedBudget) {
    this.#bucketMs = options.window / BUCKETS
    this.#ratio = options.percent / 100
    this.#reserve = (options.minPerSecond * options.window) / 1000
  }

  /** Records a call (each call's first attempt). */
  deposit(now: number): void {
    const slot = this.#advance(now)
    this.#deposits[slot]!++
    this.#depositSum++
  }

  /** Takes one retry (or hedge) from the budget; false when it is empty. */
  tryWithdraw(now: number): boolean {
    const slot = this.#advance(now)
    if (this.#available() < 1) return false
    this.#withdrawals[slot]!++
    this.#withdrawSum++
    return true
  }

  /**
   * Gives back a withdrawal that never became an attempt (the retry or hedge found no endpoint,
   * or the call ended first): keel-side refusals spend no budget (docs/retries.md, "The retry budget").
   */
  refund(now: number): void {
    const slot = this.#advance(now)
    for (let k = 0; k < BUCKETS; k++) {
      const i = (((slot - k) % BUCKETS) + BUCKETS) % BUCKETS
      if (this.#withdrawals[i]! > 0) {
        this.#withdrawals[i]!--
        this.#withdrawSum--
        return
      }
    }
  }

  /** Retries the budget would allow now. */
  available(now: number): number {
    this.#advance(now)
    return Math.max(0, Math.floor(this.#available()))
  }

  /** Calls and retries counted in the current window. */
  counts(now: number): { calls: number; retries: number } {
    this.#advance(now)
    return { calls: this.#depositSum, retries: this.#withdrawSum }
  }

  #available(): number {
    return this.#reserve + this.#depositSum * this.#ratio - this.#withdrawSum
  }

  /** Moves the window to `now`, clearing buckets that fell out of it; returns the current slot. */
  #advance(now: number): number {
    const epoch = Math.floor(now / this.#bucketMs)
    const last = this.#epoch
    if (epoch !== last) {
      if (epoch < last) return ((last % BUCKETS) + BUCKETS) % BUCKETS
      const steps = Math.min(BUCKETS, epoch - last)
      for (let i = 1; i <= steps; i++) {
        const slot = ((((last + i) % BUCKETS) + BUCKETS) % BUCKETS) | 0
        this.#depositSum -= this.#deposits[slot]!
        this.#withdrawSum -= this.#withdrawals[slot]!
        this.#deposits[slot] = 0
        this.#withdrawals[slot] = 0
      }
      this.#epoch = epoch
    }
    return ((epoch % BUCKETS) + BUCKETS) % BUCKETS
  }
}
