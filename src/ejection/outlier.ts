import type {
  AttemptObserver,
  BalancerPort,
  EndedAttempt,
  EndpointState,
  MemberObserver,
  TimerEntry,
} from '../core/ports.ts'
import { Detector } from '../model/detector.ts'
import { type ConnectProbe, connectProbe, failedConnectTo } from './connect-probe.ts'
import type { ResolvedOutlier } from './outlier-options.ts'
import { probeDelay } from './readmission.ts'

/** Why the outlier detector ejected an endpoint (the `reason` of its `ejected` events). */
export type OutlierReason = 'consecutive-failures' | 'consecutive-not-sent' | 'success-rate' | 'failure-percentage'

/** The outlier detector's counters for one endpoint (`EndpointState.outlier`). */
class OutlierRecord {
  /** Consecutive `endpoint-failure` / `not-sent` verdicts (Envoy `consecutive_5xx`). */
  failures = 0
  /** Consecutive `not-sent` verdicts (keel's `consecutiveNotSent`). */
  notSent = 0
  /** The current interval's call counter (gRPC A50 "Call Counter", Envoy's success-rate bucket). */
  successes = 0
  failed = 0
  /** The last sweep's reading of the counter, kept here so a sweep allocates nothing. */
  volume = 0
  lastFailed = 0
  rate = 1
  /**
   * Ejection-time multiplier: +1 per ejection in force, −1 per healthy interval (Envoy's
   * ejection backoff, gRPC A50's multiplier). An ejection lasts `baseEjectionTime × multiplier`.
   */
  multiplier = 0
  /** Ejected by outlier detection at some time during the current interval. */
  ejectedThisInterval = false
  /** The next re-admission probe, while ejected inline (`readmission.ts`). */
  probeEntry: TimerEntry | undefined = undefined
  /** Probes failed since the endpoint was first ejected; reset by an answer on probation. */
  probesFailed = 0
  /** When the endpoint was last restored on probation (`EndpointState.probation`). */
  probationSince = 0
  /** The last `not-sent` was a refused or reset TCP connect to the endpoint's port. */
  refusedConnect = false
  /** The ejection in force is re-checked with TCP connects (`connect-probe.ts`) until one passes. */
  connectProbes = false
  /** When the ejection in force lifts on its own. */
  ejectedUntil = 0
  /** The connect probe running now. */
  connectProbe: ConnectProbe | undefined = undefined
}

/**
 * Passive outlier detection (docs/outlier-detection.md; Envoy `outlier_detection`, gRPC A50). Compares endpoints
 * with each other from the verdicts of real traffic and ejects, through the shared ejection state
 * (so `maxEjectionPercent` counts breakers and outlier ejections together):
 * - inline, after `consecutiveFailures` failures or `consecutiveNotSent` refusals in a row
 *   (Envoy `consecutive_5xx`, ≥ rather than Envoy's ==, so a detection the cap held back is
 *   retried on the next failure instead of needing five more);
 * - every `interval`, in one sweep (one timer per balancer): success-rate ejection below
 *   mean − `stdevFactor` × σ (population σ, Envoy `successRateEjectionThreshold`) over endpoints
 *   with ≥ `requestVolume` calls in the interval, when ≥ `minimumHosts` have that many; and
 *   failure-percentage ejection at ≥ `threshold`% failures, same volume / hosts rule (Envoy
 *   `processSuccessRateEjections`). Each detection is enforced with probability `enforcing`%,
 *   drawn from the balancer's random only when it is strictly between 0 and 100.
 *
 * Verdicts: `success` and `caller-error` are successes (a 4xx is the caller's fault; Envoy
 * counts every non-5xx answer as a success); `endpoint-failure` and `not-sent` are failures;
 * `overloaded` is load shedding and counts for nothing; `cancelled` counts for nothing.
 *
 * While an endpoint is ejected by this detector, its verdicts are ignored: they come from attempts
 * that started before the ejection or that panic mode sent to it, and say nothing new. Ejecting
 * resets the consecutive counters and the interval's counter (Envoy resets the consecutive counter
 * on ejection), so a restored endpoint starts clean and is not re-ejected for its old failures.
 * Ejected endpoints take no part in a sweep's statistics (Envoy skips `FAILED_OUTLIER_CHECK` hosts).
 *
 * Ejection time is `baseEjectionTime × multiplier`, capped at `maxEjectionTime`; the multiplier
 * stops growing once the cap is reached (Envoy), so it shrinks back quickly. A healthy interval —
 * one during which the endpoint was never ejected by this detector — takes one off the multiplier
 * (gRPC A50 step 5, Envoy `checkHostForUneject`): A50 checks only "not ejected at the sweep"; keel
 * also requires that no ejection lifted during the interval, so the interval an ejection ends in
 * does not count as healthy. The ejection state lifts the ejection at its `until` on its own timer,
 * not at a sweep.
 */
/** What outlier detection needs from the balancer. */
export type OutlierHost = Pick<BalancerPort, 'clock' | 'random' | 'timers' | 'ejection' | 'members'>

export class OutlierDetector implements AttemptObserver, MemberObserver {
  readonly #core: OutlierHost
  readonly #options: ResolvedOutlier
  readonly #candidates: OutlierRecord[] = []
  readonly #states: EndpointState[] = []
  #entry: TimerEntry | undefined
  #closed = false

  constructor(core: OutlierHost, options: ResolvedOutlier) {
    this.#core = core
    this.#options = options
    this.#schedule()
  }

  attach(state: EndpointState): void {
    state.outlier = new OutlierRecord()
  }

  detach(state: EndpointState): void {
    const record = state.outlier as OutlierRecord | undefined
    if (record?.probeEntry !== undefined) this.#core.timers.cancel(record.probeEntry)
    record?.connectProbe?.abort()
    state.outlier = undefined
    state.probation = false
  }

  /** The attempt observer: after the breaker, before the overload pause. */
  attemptEnded(attempt: EndedAttempt, now: number): void {
    const state = attempt.state
    const record = state.outlier as OutlierRecord | undefined
    // A draining endpoint takes no new picks: its last attempts have nothing left to decide.
    if (record === undefined || state.draining || (state.ejectedBy & Detector.outlier) !== 0) return
    const probation = state.probation
    // On probation only the trials decide: an attempt from before the restore says nothing new.
    if (probation && attempt.start < record.probationSince) return
    switch (attempt.verdict) {
      case 'success':
      case 'caller-error':
        record.successes++
        record.failures = 0
        record.notSent = 0
        state.probation = false
        record.probesFailed = 0
        return
      case 'endpoint-failure':
        record.failed++
        record.failures++
        record.notSent = 0
        break
      case 'not-sent':
        record.failed++
        record.failures++
        record.notSent++
        record.refusedConnect = failedConnectTo(attempt.error, state.endpoint.port)
        break
      default:
        return
    }
    const o = this.#options
    if (probation) {
      // The probe request failed: out again at once, probed later than last time.
      state.probation = false
      record.probesFailed++
      this.#eject(state, record, attempt.verdict === 'not-sent' ? 'consecutive-not-sent' : 'consecutive-failures', now)
    } else if (o.consecutiveNotSent > 0 && record.notSent >= o.consecutiveNotSent) {
      this.#eject(state, record, 'consecutive-not-sent', now)
    } else if (o.consecutiveFailures > 0 && record.failures >= o.consecutiveFailures) {
      this.#eject(state, record, 'consecutive-failures', now)
    }
  }

  close(): void {
    this.#closed = true
    if (this.#entry !== undefined) this.#core.timers.cancel(this.#entry)
    this.#entry = undefined
    for (const state of this.#core.members()) {
      const record = state.outlier as OutlierRecord | undefined
      record?.connectProbe?.abort()
      if (record?.probeEntry === undefined) continue
      this.#core.timers.cancel(record.probeEntry)
      record.probeEntry = undefined
    }
  }

  /** One sweep (gRPC A50 "Outlier Detection Behavior"; Envoy `onIntervalTimer`). */
  #sweep(now: number): void {
    const records = this.#candidates
    const states = this.#states
    records.length = 0
    states.length = 0
    for (const state of this.#core.members()) {
      const record = state.outlier as OutlierRecord | undefined
      if (record === undefined) continue
      const ejected = (state.ejectedBy & Detector.outlier) !== 0
      if (!ejected && !record.ejectedThisInterval && record.multiplier > 0) record.multiplier--
      record.ejectedThisInterval = ejected
      // Read and zero the interval's counter (A50 swaps two buckets; reading then zeroing is the same).
      record.volume = record.successes + record.failed
      record.lastFailed = record.failed
      record.rate = record.volume === 0 ? 1 : record.successes / record.volume
      record.successes = 0
      record.failed = 0
      if (ejected || record.volume === 0) continue
      records.push(record)
      states.push(state)
    }
    this.#successRate(records, states, now)
    this.#failurePercentage(records, states, now)
    records.length = 0
    states.length = 0
  }

  #successRate(records: OutlierRecord[], states: EndpointState[], now: number): void {
    const sr = this.#options.successRate
    if (sr === false) return
    let hosts = 0
    let sum = 0
    for (const r of records) {
      if (r.volume < sr.requestVolume) continue
      hosts++
      sum += r.rate
    }
    if (hosts === 0 || hosts < sr.minimumHosts) return
    const mean = sum / hosts
    let variance = 0
    for (const r of records) if (r.volume >= sr.requestVolume) variance += (r.rate - mean) ** 2
    const threshold = mean - sr.stdevFactor * Math.sqrt(variance / hosts)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      if (r.volume >= sr.requestVolume && r.rate < threshold && this.#enforced(sr.enforcing)) {
        this.#eject(states[i]!, r, 'success-rate', now)
      }
    }
  }

  #failurePercentage(records: OutlierRecord[], states: EndpointState[], now: number): void {
    const fp = this.#options.failurePercentage
    if (fp === false) return
    let hosts = 0
    for (const r of records) if (r.volume >= fp.requestVolume) hosts++
    if (hosts === 0 || hosts < fp.minimumHosts) return
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const state = states[i]!
      if ((state.ejectedBy & Detector.outlier) !== 0 || r.volume < fp.requestVolume) continue
      // In integers, so that 85% is exactly 85%.
      if (r.lastFailed * 100 >= fp.threshold * r.volume && this.#enforced(fp.enforcing)) {
        this.#eject(state, r, 'failure-percentage', now)
      }
    }
  }

  /** Envoy `enforcing_*` / A50 `enforcement_percentage`: a detection is enforced with this chance. */
  #enforced(percent: number): boolean {
    if (percent >= 100) return true
    if (percent <= 0) return false
    return this.#core.random() * 100 < percent
  }

  #eject(state: EndpointState, record: OutlierRecord, reason: OutlierReason, now: number): void {
    const o = this.#options
    const multiplier =
      record.multiplier * o.baseEjectionTime < o.maxEjectionTime ? record.multiplier + 1 : record.multiplier
    const until = now + Math.min(o.baseEjectionTime * multiplier, o.maxEjectionTime)
    // Over `maxEjectionPercent` the ejection state drops the detection (Envoy): nothing changes here.
    if (!this.#core.ejection.eject(state, 'outlier', reason, until)) return
    record.multiplier = multiplier
    record.ejectedThisInterval = true
    record.failures = 0
    record.notSent = 0
    record.successes = 0
    record.failed = 0
    state.probation = false
    record.ejectedUntil = until
    // A refused or reset connect is re-checked with a connect of its own (`connect-probe.ts`).
    record.connectProbes = reason === 'consecutive-not-sent' && record.refusedConnect
    // Statistical ejections (success rate, failure percentage) stand for their whole time: one
    // probe cannot refute a failure rate. Inline ones are probed back (`readmission.ts`).
    if (o.readmission && (reason === 'consecutive-not-sent' || reason === 'consecutive-failures')) {
      this.#scheduleProbe(state, record, now, until)
    }
  }

  /** Schedules the next re-admission probe, unless the ejection ends first. */
  #scheduleProbe(state: EndpointState, record: OutlierRecord, now: number, until: number): void {
    const timers = this.#core.timers
    if (record.probeEntry !== undefined) timers.cancel(record.probeEntry)
    record.probeEntry = undefined
    const at = now + probeDelay(record.probesFailed, this.#core.random, record.connectProbes)
    if (at >= until || this.#closed) return
    record.probeEntry = timers.schedule(at, () => {
      record.probeEntry = undefined
      if (state.outlier !== record || (state.ejectedBy & Detector.outlier) === 0) return
      if (record.connectProbes) this.#probeConnect(state, record)
      else this.#readmit(state, record)
    })
  }

  /** A connect probe: restored on probation once it connects, else the next probe, later. */
  #probeConnect(state: EndpointState, record: OutlierRecord): void {
    const core = this.#core
    const probe = (record.connectProbe = connectProbe(state.endpoint, core.timers, core.clock.now()))
    probe.passed.then((passed) => {
      if (record.connectProbe === probe) record.connectProbe = undefined
      if (this.#closed || state.outlier !== record || (state.ejectedBy & Detector.outlier) === 0) return
      if (passed) {
        this.#readmit(state, record)
        return
      }
      record.probesFailed++
      this.#scheduleProbe(state, record, core.clock.now(), record.ejectedUntil)
    })
  }

  /**
   * Lifts the ejection on probation. The endpoint's latency estimate restarts from its peers'
   * mean, as a new endpoint's does: the penalties that got it ejected describe the failure, not
   * the replica that came back, and would keep it from being picked for many seconds.
   */
  #readmit(state: EndpointState, record: OutlierRecord): void {
    const core = this.#core
    const now = core.clock.now()
    let sum = 0
    let n = 0
    for (const peer of core.members()) {
      if (peer === state || !peer.pickable) continue
      sum += peer.load.read(now)
      n++
    }
    if (n > 0) state.load.reset(now, sum / n)
    // One trial at a time until an answer (the endpoint set admits it as a half-open breaker's).
    state.probation = true
    record.probationSince = now
    core.ejection.restore(state, 'outlier', 'probe')
  }

  #schedule(): void {
    if (this.#closed) return
    const core = this.#core
    this.#entry = core.timers.schedule(core.clock.now() + this.#options.interval, () => {
      this.#entry = undefined
      this.#sweep(core.clock.now())
      this.#schedule()
    })
  }
}

/** The outlier detector of a balancer, or undefined when `outlierDetection` is `false`. */
export function createOutlierDetector(
  core: OutlierHost,
  options: ResolvedOutlier | false,
): OutlierDetector | undefined {
  return options === false ? undefined : new OutlierDetector(core, options)
}
