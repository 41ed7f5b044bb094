/**
 * The most a failure can push an estimate to, in ms. Without a ceiling, consecutive failures with
 * nowhere else to go (a single endpoint, a total outage) would double the estimate past any
 * number; with it, an endpoint that recovers is back in contention within τ·ln(60 000 / rtt)
 * (≈ 95 s at 5 ms). Real round trips above it are still recorded as they are.
 */
export const MAX_PENALTY_MS = 60_000

/**
 * e^-x for x ≥ 0. Under traffic an estimate is read a few ms after its last sample, x ≪ 1, where
 * six terms of the series are exact to 3e-11 relative and cheaper than a call to Math.exp.
 */
function decay(x: number): number {
  return x < 0.05 ? 1 - x * (1 - x * (0.5 - x * (1 / 6 - x * (1 / 24 - x / 120)))) : Math.exp(-x)
}

/**
 * PeakEWMA latency (Finagle `PeakEwma`, tower `PeakEwma`, Linkerd) with keel's handling of
 * answers that come back without doing the work (failures, caller errors).
 *
 * The estimate jumps to any round trip above it (peak-sensitive: a replica that turns slow loses
 * traffic at once) and otherwise decays toward 0 with time constant `decay` (10 s), so an endpoint
 * that stopped getting traffic because it was slow is probed again. Reading is pure: `pick()`
 * changes nothing.
 *
 * `p2c-ewma` ranks by latency × (in-flight + 1). An answer that returns at once without doing the
 * work — a 503 from a broken replica, a 404 from a stale IP now serving something else — would
 * report a latency near 0 and leave the in-flight count near 0: taken at face value, the endpoint
 * becomes the cheapest of the set and attracts the traffic it fails (a naive PeakEWMA sent 51% of
 * calls to a replica answering instant 503s; ingress-nginx #9882 and the SRE Workbook describe
 * the same skew). So such an answer keeps the endpoint *busy* for the time a real answer would
 * have taken: it adds up to one unit of `busy`, a count that decays with the endpoint's own latency
 * as time constant, so an endpoint answering fast errors at rate λ carries about λ × latency extra
 * requests — what it would hold in flight if it did the work (Little's law). `loaded()` folds
 * that into the latency the picker reads.
 */
export class PeakEwma {
  /** Estimate in ms as of `stamp`. */
  #cost: number
  #stamp: number
  /** 1 / decay time constant, per ms. */
  readonly #rate: number
  /** The estimate is still the cold-start guess: no answer has been recorded yet. */
  #guess = true
  /** Answers that ended before doing the work, still counted as busy, as of `busyStamp`. */
  #busy = 0
  #busyStamp = 0

  constructor(initialMs: number, now: number, decayMs: number) {
    this.#cost = initialMs
    this.#stamp = now
    this.#rate = 1 / decayMs
  }

  /** Whether the estimate is still a guess (no answer recorded since it was made). */
  get guess(): boolean {
    return this.#guess
  }

  /** The estimate as of its last update, before any decay: what the last real sample put there. */
  get storedMs(): number {
    return this.#cost
  }

  /** The latency estimate at `now`, decayed toward 0 since the last sample. */
  read(now: number): number {
    // One expression, no early return: a branch returning the stored value as it is makes V8
    // merge a tagged and a float result and box every computed reading (measured: 16 bytes per
    // read). e^0 is exactly 1.
    return this.#cost * decay(Math.max(0, now - this.#stamp) * this.#rate)
  }

  /** Early answers still counted as busy at `now`. */
  busy(now: number): number {
    const busy = this.#busy
    return busy === 0 ? 0 : busy * Math.exp(-Math.max(0, now - this.#busyStamp) / Math.max(this.#cost, 1e-9))
  }

  /**
   * The latency a picker should see with `inFlight` attempts in flight: the estimate scaled so
   * that latency × (inFlight + 1) counts the busy early answers as requests in flight.
   */
  loaded(now: number, inFlight: number): number {
    const latency = this.read(now)
    const busy = this.#busy === 0 ? 0 : this.busy(now)
    return busy === 0 ? latency : latency * (1 + busy / (inFlight + 1))
  }

  /**
   * Records a round-trip time: at or above the current reading it becomes the estimate (the
   * peak); below it, the reading stays and keeps decaying.
   *
   * Finagle and tower blend a lower sample in with weight 1 − e^(−Δt/τ), but they decay their
   * stored value on every read, so under traffic Δt is the time since the last pick and the blend
   * all but vanishes: what steers them is the peak and the decay. keel reads without writing, so
   * it keeps exactly that. Blending by the time since the last *sample* instead goes wrong both
   * ways: into the stored value, a 5 ms answer after a quiet spell lifts a decayed 5.5 ms reading
   * to 10 ms (the endpoint is shunned again just as it recovered); into the decayed reading, every
   * sample decays the estimate a second time, so the endpoints picked most look cheapest and
   * attract still more picks (measured: 36% and 3% shares among four equal endpoints).
   */
  observe(now: number, rttMs: number): void {
    // The first answer replaces the cold-start guess (the peers' mean, or 30 ms) instead of only
    // raising it: otherwise every estimate of a fresh fleet stays the guess, decaying for ~30 s
    // before real samples count, and a guess made a millisecond earlier wins every comparison.
    this.#cost = this.#guess ? rttMs : Math.max(rttMs, this.read(now))
    this.#guess = false
    if (now > this.#stamp) this.#stamp = now
  }

  /**
   * Records a `caller-error` (docs/pickers/p2c-ewma.md: it may raise the estimate, never lower it). The answer
   * says nothing about how fast the endpoint serves real work, so the estimate is held where the
   * last real sample left it (its decay restarts from now) and only a slower answer raises it;
   * the time it did not spend counts as busy. A stale replica answering instant 404s thus keeps
   * the cost of a working one at its last known latency and never gains share, and a healthy
   * one answering occasional 404s beside its successes keeps its place.
   */
  raise(now: number, rttMs: number): void {
    this.#addBusy(now, rttMs)
    if (rttMs > this.#cost) this.#cost = rttMs
    if (now > this.#stamp) this.#stamp = now
    this.#guess = false
  }

  /**
   * Records an `endpoint-failure` or `not-sent`: a round trip of twice the higher of the current
   * reading and `floorMs` (the fastest peer's latency, see `load-reference.ts`), at most
   * `MAX_PENALTY_MS`, or the real duration if longer; the time it did not spend counts as busy.
   * Consecutive failures double the estimate, so a failing endpoint soon ranks last; the floor
   * keeps a failure from being cheap when the estimate had decayed toward 0 while the endpoint
   * sat out.
   */
  penalize(now: number, rttMs: number, floorMs: number): void {
    this.#addBusy(now, rttMs)
    const penalty = Math.min(2 * Math.max(this.read(now), floorMs), MAX_PENALTY_MS)
    this.observe(now, Math.max(rttMs, penalty))
  }

  /** Overwrites the estimate (cold start, reset after an ejection). */
  reset(now: number, ms: number): void {
    this.#cost = ms
    this.#stamp = now
    this.#busy = 0
    this.#guess = true
  }

  /** An answer after `rttMs` counts busy for the share of the estimate it did not take. */
  #addBusy(now: number, rttMs: number): void {
    const expected = this.#cost
    if (!(rttMs < expected)) return
    this.#busy = this.busy(now) + 1 - rttMs / expected
    this.#busyStamp = now
  }
}
