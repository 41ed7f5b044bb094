/**
 * PeakEWMA latency (Finagle `PeakEwma`, tower `PeakEwma`, Linkerd): an exponentially weighted
 * average of round-trip times that jumps to any sample above it (peak-sensitive, so a replica that
 * turns slow loses traffic at once) and otherwise moves toward samples with time constant `decay`.
 * Between samples the estimate decays toward 0, as in Finagle and tower, so an endpoint that was
 * slow and stopped receiving traffic is probed again. Reading is pure: `pick()` changes nothing.
 */
export class PeakEwma {
  /** Estimate in ms as of `stamp`. */
  #cost: number
  #stamp: number
  readonly #tau: number

  constructor(initialMs: number, now: number, decayMs: number) {
    this.#cost = initialMs
    this.#stamp = now
    this.#tau = decayMs
  }

  /** The estimate at `now`, decayed toward 0 since the last sample. */
  read(now: number): number {
    const elapsed = now - this.#stamp
    return elapsed <= 0 ? this.#cost : this.#cost * Math.exp(-elapsed / this.#tau)
  }

  /** Records a round-trip time: above the estimate it becomes the estimate, else it is blended in. */
  observe(now: number, rttMs: number): void {
    const elapsed = now - this.#stamp
    const w = elapsed <= 0 ? 1 : Math.exp(-elapsed / this.#tau)
    const current = this.#cost
    this.#cost = rttMs > current * w ? rttMs : current * w + rttMs * (1 - w)
    if (now > this.#stamp) this.#stamp = now
  }

  /** Records a sample that may raise the estimate but never lowers it (a `caller-error`). */
  raise(now: number, rttMs: number): void {
    if (rttMs > this.read(now)) this.observe(now, rttMs)
  }

  /**
   * Records a failure. A failed attempt is charged at least twice the current estimate (and at
   * least `floorMs`), so an endpoint that fails fast never looks fast: consecutive failures
   * double its cost while successes blend it back down.
   */
  penalize(now: number, rttMs: number, floorMs = 30): void {
    this.observe(now, Math.max(rttMs, 2 * this.read(now), floorMs))
  }

  /** Overwrites the estimate (cold start, reset after an ejection). */
  reset(now: number, ms: number): void {
    this.#cost = ms
    this.#stamp = now
  }
}
