import { NOISE_FLOOR_MS } from '../model/noise-band.ts'

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
 * Answers an estimate stays tentative for (compared by requests in flight, at the fastest answer
 * so far): as many as it takes to confirm a level.
 */
export const TENTATIVE_ANSWERS = 3
/**
 * How far a faster answer moves the estimate toward itself: halfway. Counted in answers, not in
 * time, so an endpoint that gets traffic settles on its real latency within a few answers (one
 * raised by a real slowdown that ended, one whose estimate decayed to a probe, one that answers
 * faster than its cold-start guess).
 */
export const LOWER_WEIGHT = 0.5

/**
 * The weight of each answer's miss in the mean deviation `deviationMs` — Jacobson's RTTVAR gain
 * (RFC 6298: 1/4).
 */
export const DEVIATION_WEIGHT = 0.25

/**
 * How many round trips of its usual latency a confirmed peak takes to decay by e (its decay
 * time constant, at most `decay`). Finagle's 10 s is about 200 round trips of a 50 ms service;
 * at 1 ms it is 10,000, and an endpoint raised by a fluke — or a replica that recovered — would
 * sit out for tens of thousands of calls. Counting in the service's own round trips keeps the
 * probes of a slow replica as rare in calls at every scale (about one in a few hundred to a few
 * thousand calls, each also charged to its in-flight count) while bounding how long any peak
 * keeps an endpoint out to ~200 × its latency × ln(peak / its peers' band).
 */
export const RECOVERY_ROUND_TRIPS = 200

/**
 * How long an estimate that no answer has refreshed stays a measurement, at least (ms). After
 * that `p2c-ewma` compares it as a guess, by requests in flight, while the endpoint has none, so
 * the endpoint takes one request that measures it again; that answer decides. Without it an
 * endpoint whose estimate is high (failures charged while it refused connections, a slow answer
 * during a loaded start-up) lost every comparison, got no request that could lower it, and came
 * back only by the decay: a restarted replica that answered normally sat out for over 10 s.
 * 1 s is the first probe interval of Linkerd's failure accrual and of keel's own re-admission
 * probes; the horizon is also at least `RECOVERY_ROUND_TRIPS` of the peer it is compared with (the
 * scale on which a confirmed peak decays) and `STALE_OWN_ROUND_TRIPS` of the endpoint's own last
 * round trip, so a probe is at most one call in 200 of a sequential caller, and a probe that
 * hangs or answers slowly (a 15 s idle limit, a 10× slower replica) is sent rarely.
 */
export const STALE_AFTER_MS = 1_000

/** See `STALE_AFTER_MS`: an endpoint whose last answer took 15 s is not re-measured every second. */
export const STALE_OWN_ROUND_TRIPS = 10

/**
 * Failed re-measurements in a row that stay `STALE_AFTER_MS` apart; after them the horizon grows
 * by `STALE_BACKOFF` per failed one, up to `decay`. As keel's connect probes (after Linkerd's
 * failure accrual): a replica that takes up to ~10 s to restart is still back within about a
 * second of listening, and one that stays down costs fewer and fewer failed requests.
 */
export const STALE_STEADY_PROBES = 10
/** See `STALE_STEADY_PROBES`. */
export const STALE_BACKOFF = 1.25

/**
 * PeakEWMA latency (Finagle `PeakEwma`, tower `PeakEwma`, Linkerd) made robust to single slow
 * answers, with keel's handling of answers that come back without doing the work (failures,
 * caller errors).
 *
 * - **Peak-sensitive, on confirmed levels.** A latency level raises the estimate at once (as in
 *   Finagle) only when three requests that did not overlap in time all took at least that
 *   long: the estimate jumps to min(this answer, its two witnesses), the last answer that ended
 *   before this request started and the one before that. A GC pause, an event-loop stall or a first
 *   connection's handshake slows the requests in flight at that moment; it cannot slow a request
 *   sent after it ended, so a single spike — or a burst of answers all caught in the same pause —
 *   changes nothing, while an endpoint that really turned slow is confirmed by its third slow
 *   answer at one call at a time, two slow round trips later under concurrency
 *   (where its growing in-flight count already steers calls away meanwhile). Three, not two: on
 *   a loaded host unrelated stalls hit a fraction p of answers, and two in a row on one endpoint
 *   (p²) came often enough to exile equal replicas every few seconds on loopback; three (p³) are
 *   rare, for one more slow answer before a real slowdown counts.
 * - **Lowered by answers.** A faster answer moves the estimate halfway to it (`LOWER_WEIGHT`).
 * - **Decays toward 0** while no answer comes, so an endpoint that stopped getting traffic because
 *   it was slow is probed again: with time constant `RECOVERY_ROUND_TRIPS` × the reading the
 *   last confirmed rise started from, at most `decay` (10 s, Finagle's `decayTime`), which also
 *   applies after a failure or a reset.
 * - **Stale after a horizon** (`stale`, `STALE_AFTER_MS`): an estimate no answer has refreshed
 *   for ~1 s is compared as a guess by `p2c-ewma`, so the endpoint takes one request that
 *   measures it again, and the answer to a request sent then replaces a higher estimate.
 * - **Deviation.** `deviationMs` follows how far answers land from the estimate (RFC 6298's
 *   RTTVAR, by answers): the picker's noise band widens with it on a noisy host.
 * - Reading is pure: `pick()` changes nothing.
 *
 * `p2c-ewma` ranks by latency × (in-flight + 1). An answer that returns at once without doing the
 * work — a 503 from a broken replica, a 404 from a stale IP now serving something else — would
 * report a latency near 0 and leave the in-flight count near 0: taken at face value, the endpoint
 * becomes the cheapest of the set and attracts the traffic it fails (a naive PeakEWMA sent 51% of
 * calls to a replica answering instant 503s; ingress-nginx #9882 and the SRE Workbook describe
 * the same skew). So such an answer keeps the endpoint *busy* for the time a real answer would
 * have taken: it adds up to one unit of `busy`, a count that decays with the endpoint's own latency
 * as time constant, so an endpoint answering fast errors at rate λ carries about λ × latency extra
 * requests — what it would hold in flight if it did the work (Little's law). The picker counts
 * `busy` like requests in flight, and `loaded()` folds it into the latency for other readers.
 */
export class PeakEwma {
  /** Estimate in ms as of `stamp`. */
  #cost: number
  #stamp: number
  /** 1 / decay time constant, per ms. */
  #rate: number
  /** 1 / `decay`: the slowest decay, and the one after failures and resets. */
  readonly #baseRate: number
  /**
   * The estimate is still tentative: the cold-start guess, lowered to the fastest of the first
   * `TENTATIVE_ANSWERS` answers.
   */
  #guess = true
  /** Answers recorded while tentative. */
  #answers = 0
  /** Answers that ended before doing the work, still counted as busy, as of `busyStamp`. */
  #busy = 0
  #busyStamp = 0
  /** Mean deviation of answers from the estimate, in ms (by answers, like RFC 6298's RTTVAR). */
  #dev = 0
  /** The witnesses: the last answer's latency and when it ended, and the answer before it. */
  #witnessMs = 0
  #witnessEnd = Number.NEGATIVE_INFINITY
  #earlierWitnessMs = 0
  /** When an answer or a charge last refreshed the estimate. */
  #answeredAt: number
  /** The endpoint's own part of the staleness horizon (`STALE_OWN_ROUND_TRIPS`, or a relapse's). */
  #ownHorizon = 0
  /** A failure was charged and no success has come since. */
  #failing = false
  /** The first success after the last failure: when the endpoint recovered. */
  #recoveredAt = Number.NEGATIVE_INFINITY
  /** Failures in a row, with no success between them, of requests sent to a stale estimate. */
  #failedProbes = 0
  /** The last failure came within `decay` of a recovery: not re-measured before `decay` (see `penalize`). */
  #relapsed = false
  /** `decay`, ms. */
  readonly #decayMs: number

  constructor(initialMs: number, now: number, decayMs: number) {
    this.#cost = initialMs
    this.#stamp = now
    this.#answeredAt = now
    this.#rate = 1 / decayMs
    this.#baseRate = this.#rate
    this.#decayMs = decayMs
  }

  /** Whether the estimate is still a guess (no answer recorded since it was made). */
  get guess(): boolean {
    return this.#guess
  }

  /**
   * How far answers have landed from the estimate lately (mean absolute deviation, ms): the
   * noise of this endpoint's latency, which widens the band inside which `p2c-ewma` reads two
   * estimates as equal. A spike raises it instead of the estimate; a failure zeroes it.
   */
  get deviationMs(): number {
    return this.#dev
  }

  /**
   * Whether no answer has refreshed the estimate for the staleness horizon: `STALE_AFTER_MS`, at
   * least `RECOVERY_ROUND_TRIPS` × `peerMs` (the latency of the peer it is compared with) and
   * `STALE_OWN_ROUND_TRIPS` × its own last round trip, or `decay` after a relapse. A stale
   * estimate is no longer a measurement: `p2c-ewma` compares it as a guess while the endpoint has
   * nothing in flight, so it takes one request, and the answer decides (see `observe`).
   */
  stale(now: number, peerMs: number): boolean {
    return now - this.#answeredAt >= Math.max(STALE_AFTER_MS, this.#ownHorizon, RECOVERY_ROUND_TRIPS * peerMs)
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
   * Records a successful round trip of `rttMs` ending at `now`.
   *
   * Above the reading, it raises the estimate only as far as its witnesses confirm: to
   * min(rttMs, both witnesses) when the last one ended before this request started, not at all
   * otherwise. Below the reading, it moves the estimate halfway to itself. Finagle and tower
   * blend lower samples by the time since the last read, which under traffic is ~0: what steers
   * them is the peak and the decay, and a single slow answer then rules for τ·ln(peak / latency)
   * — seconds, thousands of calls at one call at a time. Counting answers instead brings an
   * estimate back as soon as the endpoint answers fast again.
   */
  observe(now: number, rttMs: number): void {
    const reading = this.read(now)
    // Sent after the estimate went stale (by the endpoint's own horizon): a fresh measurement of
    // the endpoint as it is now, so a faster answer replaces the estimate instead of halving the
    // distance — a replica charged failures while it refused connections is back at its first
    // normal answer, not after one re-measurement per doubling.
    const fresh = now - rttMs - this.#answeredAt >= Math.max(STALE_AFTER_MS, this.#ownHorizon)
    if (this.#failing) {
      this.#failing = false
      this.#recoveredAt = now
    }
    this.#failedProbes = 0
    this.#refreshed(now, rttMs)
    let confirmed = 0
    // Answers whose requests overlap the witness were caught in the same moment as it: they
    // neither confirm nor replace it.
    if (now - rttMs >= this.#witnessEnd) {
      confirmed = Math.min(rttMs, this.#witnessMs, this.#earlierWitnessMs)
      this.#earlierWitnessMs = this.#witnessMs
      this.#witnessMs = rttMs
      this.#witnessEnd = now
    }
    if (this.#guess && !(confirmed > reading)) {
      // Tentative: the estimate is the fastest of the cold-start guess (the peers' mean, or the
      // fleet's first answer) and the first answers, compared by requests in flight, until
      // TENTATIVE_ANSWERS answers. A slower answer waits for its confirmation like any other, so
      // a first answer slowed by the connection's handshake does not set the estimate. A first
      // answer is a poor measurement (a new connection, a cold process, a loaded host): taken as
      // one, a slow first answer kept its endpoint out of the picks of peers that had answered
      // again since, for the tens of seconds its decay took (2 calls of 1,000 in a drill).
      if (rttMs < reading) this.#cost = rttMs
      if (++this.#answers >= TENTATIVE_ANSWERS) this.#guess = false
    } else if (confirmed > reading) {
      this.#guess = false
      this.#cost = confirmed
      // Forget the peak over RECOVERY_ROUND_TRIPS of the latency it rose from: a service that
      // answers in 1 ms probes a replica that turned slow again after ~0.2–0.5 s, not 10 s.
      this.#rate = Math.max(this.#baseRate, 1 / (RECOVERY_ROUND_TRIPS * Math.max(reading, NOISE_FLOOR_MS)))
    } else if (fresh && rttMs < reading) {
      this.#cost = rttMs
    } else {
      this.#cost = rttMs < reading ? reading + LOWER_WEIGHT * (rttMs - reading) : reading
    }
    // The miss is measured from the estimate after this answer: an unconfirmed spike counts in
    // full, an answer that confirmed a new level not at all.
    this.#dev += DEVIATION_WEIGHT * (Math.abs(rttMs - this.#cost) - this.#dev)
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
    this.#refreshed(now, rttMs)
    if (rttMs > this.#cost) this.#cost = rttMs
    if (now > this.#stamp) this.#stamp = now
    this.#guess = false
  }

  /**
   * Records an `endpoint-failure` or `not-sent`, at once (no witness needed): a round trip of
   * twice the higher of the current reading and `floorMs` (the top of the noise band over the
   * fastest peer's latency, see `load-reference.ts`), at most `MAX_PENALTY_MS`, or the real
   * duration if longer; the time it did not spend counts as busy.
   * Consecutive failures double the estimate, so a failing endpoint soon ranks last; the floor
   * keeps a failure from being cheap when the estimate had decayed toward 0 while the endpoint
   * sat out.
   */
  penalize(now: number, rttMs: number, floorMs: number): void {
    this.#addBusy(now, rttMs)
    // A failure within `decay` of a recovery is a relapse (a replica failing a share of its
    // requests, not one that came back): re-measured after `decay`, as Finagle's decay would
    // bring it back, not after a second. Envoy's outlier detection lengthens a host's ejection
    // the same way each time it is ejected again. Failures in a row with no success between them
    // (a replica down and refusing) are one incident: they change nothing here.
    if (!this.#failing) {
      this.#failing = true
      this.#relapsed = now - this.#recoveredAt < this.#decayMs
    } else if (now - rttMs - this.#answeredAt >= Math.max(STALE_AFTER_MS, this.#ownHorizon)) {
      this.#failedProbes++
    }
    this.#refreshed(now, rttMs)
    const extra = this.#failedProbes - STALE_STEADY_PROBES
    if (extra > 0) {
      const backoff = Math.min(STALE_AFTER_MS * STALE_BACKOFF ** extra, this.#decayMs)
      if (backoff > this.#ownHorizon) this.#ownHorizon = backoff
    }
    const reading = this.read(now)
    const penalty = Math.min(2 * Math.max(reading, floorMs), MAX_PENALTY_MS)
    // Charged at once, unlike a slow success: a failure is not noise.
    this.#cost = Math.max(rttMs, penalty, reading)
    this.#rate = this.#baseRate
    this.#dev = 0
    if (now > this.#stamp) this.#stamp = now
    this.#guess = false
  }

  /** Overwrites the estimate (cold start, reset after an ejection). */
  reset(now: number, ms: number): void {
    this.#cost = ms
    this.#stamp = now
    this.#busy = 0
    this.#guess = true
    this.#answers = 0
    this.#rate = this.#baseRate
    this.#dev = 0
    this.#witnessMs = 0
    this.#witnessEnd = Number.NEGATIVE_INFINITY
    this.#earlierWitnessMs = 0
    this.#answeredAt = now
    this.#ownHorizon = 0
    this.#failing = false
    this.#recoveredAt = Number.NEGATIVE_INFINITY
    this.#relapsed = false
    this.#failedProbes = 0
  }

  /** An answer or a charge after `rttMs` refreshed the estimate at `now`. */
  #refreshed(now: number, rttMs: number): void {
    this.#answeredAt = now
    this.#ownHorizon = this.#failing && this.#relapsed ? this.#decayMs : STALE_OWN_ROUND_TRIPS * rttMs
  }

  /** An answer after `rttMs` counts busy for the share of the estimate it did not take. */
  #addBusy(now: number, rttMs: number): void {
    const expected = this.#cost
    if (!(rttMs < expected)) return
    this.#busy = this.busy(now) + 1 - rttMs / expected
    this.#busyStamp = now
  }
}
