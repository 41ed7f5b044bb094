import type { BalancerPort, EndpointState } from '../core/ports.ts'
import type { TimerEntry } from '../internal/timer-queue.ts'
import type { ResolvedZoneLatency, ResolvedZones } from './zone-options.ts'

/**
 * Latencies this close are the same latency whatever the ratio: timer resolution and event-loop
 * lag blur sub-millisecond differences (the same floor as the picker's noise band).
 */
export const LATENCY_FLOOR_MS = 1
/** Once shedding, the local zone is held at this fraction of the engage line, so it does not flap around it. */
export const HOLD = 0.8
/** The local zone keeps at least this share while shedding, so its own estimate stays current. */
export const MIN_LOCAL_FACTOR = 0.05
/**
 * Answers an endpoint must have given before its estimate counts: a PeakEWMA that raises only on
 * levels confirmed by non-overlapping requests needs a few before it leaves its cold-start guess.
 */
export const PROBE_ANSWERS = 3
/** A probe is at most one call in this many. */
export const PROBE_EVERY_CALLS = 100

/** What the rule reads and sets of a level's zone split (`ZoneSplit` in `zones.ts`). */
export interface ZoneLoads {
  readonly hasLocal: boolean
  readonly tiers: readonly { readonly candidates: readonly EndpointState[] }[]
  readonly factor: number
  reweigh(factor: number): void
}

/**
 * Latency-based shedding of a healthy but slow local zone (docs/zones.md, "Latency"). Envoy's
 * zone-aware routing only looks at health, so an overloaded zone, or one behind a bad network
 * path, keeps all its callers until something is ejected. keel compares the zones by the
 * latency estimates the picker already keeps (PeakEWMA, `load/peak-ewma.ts`):
 *
 * - L = the lowest last-known estimate among the local zone's eligible endpoints (the whole zone
 *   must be slow: one slow replica is the picker's business, and a peak left by a connection's
 *   handshake on one endpoint moves nothing), R = the same over the other zones' eligible
 *   endpoints (the best the other zones offer: each PeakEWMA carries its recent peaks, and the
 *   least affected endpoint is the closest to the real latency); an estimate counts after
 *   `PROBE_ANSWERS` answers (before, it may still be the cold-start guess or a single sample).
 * - The local zone starts shedding when L > ratio × R + 1 ms. While shedding, its health is
 *   multiplied by min(1, HOLD × (ratio × R + 1) / L), at least `MIN_LOCAL_FACTOR`; it stops once
 *   that reaches 1 (L under 80% of the line): the hysteresis band.
 * - The factor drops at once and climbs back halfway per evaluation, so an overloaded zone that
 *   recovers as it sheds settles instead of oscillating.
 * - While every call stays local the others' estimates would go stale, so one call in at least
 *   `PROBE_EVERY_CALLS`, at most one per `probeInterval`, is sent to another zone, in runs of
 *   three to one endpoint so that its estimate becomes evidence.
 *
 * Recomputed on every snapshot rebuild and every `interval` on the balancer's clock.
 */
export class ZoneLatency {
  readonly #settings: ResolvedZoneLatency
  /** Per priority: shedding or not. */
  readonly #engaged = new Map<number, boolean>()
  #calls = 0
  #nextProbe = Number.NEGATIVE_INFINITY
  #probes = 0
  readonly #port: Pick<BalancerPort, 'timers'>
  readonly #onTimer: (latency: ZoneLatency) => void
  #entry: TimerEntry | undefined
  #closed = false

  /** `onTimer` recomputes the current snapshot's levels (`Selection.reweigh`). */
  constructor(
    settings: ResolvedZoneLatency,
    port: Pick<BalancerPort, 'timers'>,
    onTimer: (latency: ZoneLatency) => void,
  ) {
    this.#settings = settings
    this.#port = port
    this.#onTimer = onTimer
  }

  /**
   * Latencies move without invalidating the snapshot, so the rule also runs every `interval`
   * (one timer at a time, armed by the first snapshot, stopped by `close()`).
   */
  arm(now: number): void {
    if (this.#entry !== undefined || this.#closed) return
    const at = now + this.#settings.interval
    this.#entry = this.#port.timers.schedule(at, () => {
      this.#entry = undefined
      this.#onTimer(this)
      this.arm(at)
    })
  }

  close(): void {
    this.#closed = true
    if (this.#entry !== undefined) this.#port.timers.cancel(this.#entry)
    this.#entry = undefined
  }

  /** Recomputes the latency factor of one level's split and reweighs it. */
  evaluate(priority: number, split: ZoneLoads): void {
    if (!split.hasLocal) return
    const local = lowest(split.tiers[0]!.candidates)
    const others: EndpointState[] = []
    for (let i = 1; i < split.tiers.length; i++) for (const m of split.tiers[i]!.candidates) others.push(m)
    const remote = lowest(others)
    let engaged = this.#engaged.get(priority) ?? false
    let target = 1
    if (local !== undefined && remote !== undefined) {
      const line = this.#settings.ratio * remote + LATENCY_FLOOR_MS
      if (local > line) engaged = true
      if (engaged) {
        target = Math.max(MIN_LOCAL_FACTOR, Math.min(1, (HOLD * line) / local))
        if (target >= 1) engaged = false
      }
    } else {
      engaged = false
    }
    this.#engaged.set(priority, engaged)
    const previous = split.factor
    let factor = target <= previous ? target : previous + (target - previous) / 2
    if (factor > 0.99) factor = 1
    if (factor !== previous) split.reweigh(factor)
  }

  /**
   * Whether this pick should probe another zone: a positive probe number, or 0. Allocation-free:
   * a counter and a clock comparison per unkeyed pick that stays local.
   */
  probe(now: number): number {
    if (++this.#calls < PROBE_EVERY_CALLS || now < this.#nextProbe) return 0
    this.#calls = 0
    this.#nextProbe = now + this.#settings.probeInterval
    return ++this.#probes
  }
}

/** Lowest last-known estimate (ms) of the endpoints that are evidence, or undefined. */
function lowest(states: readonly EndpointState[]): number | undefined {
  let low: number | undefined
  for (const s of states) if (known(s) && (low === undefined || s.load.storedMs < low)) low = s.load.storedMs
  return low
}

/** The estimate is evidence: `PROBE_ANSWERS` answers, and not a cold-start guess. */
function known(s: EndpointState): boolean {
  return !s.load.guess && s.requests >= PROBE_ANSWERS
}

/** The latency rule of `zones`, or undefined when zone-blind or `zoneAware.latency: false`. */
export function zoneLatency(
  zones: ResolvedZones | undefined,
  port: Pick<BalancerPort, 'timers'>,
  onTimer: (latency: ZoneLatency) => void,
): ZoneLatency | undefined {
  return zones === undefined || zones.latency === false ? undefined : new ZoneLatency(zones.latency, port, onTimer)
}
