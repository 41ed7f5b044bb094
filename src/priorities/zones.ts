import type { EndpointState } from '../core/ports.ts'
import type { PickContext, Picker } from '../model/picker.ts'
import { priorityLoads } from './loads.ts'
import type { ZoneLatency } from './zone-latency.ts'
import type { ResolvedZones } from './zone-options.ts'

/**
 * A group of a level's members that are equally near the caller: the local zone (tier 0), then
 * each rank of `zoneAware.zones`, then every unranked zone together (and endpoints without one).
 */
export interface Tier {
  readonly rank: number
  readonly members: readonly EndpointState[]
  readonly candidates: readonly EndpointState[]
  readonly eligible: number
  readonly picker: Picker
  readonly fallback: Picker | undefined
}

/** Builds one tier's pickers, reusing the previous tier of the same rank where the scope allows. */
export type TierPickers = (
  members: readonly EndpointState[],
  candidates: readonly EndpointState[],
  previous: Tier | undefined,
) => { picker: Picker; fallback: Picker | undefined }

/** Unranked zones sort after every ranked one. */
const UNRANKED = Number.MAX_SAFE_INTEGER

/** The tier rank of an endpoint's zone. */
export function tierRank(zone: string | undefined, zones: ResolvedZones): number {
  if (zone === zones.localZone) return 0
  return zone === undefined ? UNRANKED : (zones.ranks.get(zone) ?? UNRANKED)
}

/**
 * The zone split of one priority level: its tiers, each tier's health, and the share of the
 * level's calls each takes — Envoy's priority spill-over applied to zones inside the level
 * (arch overview "Zone aware routing" and "Priority levels"): tier 0 (the local zone) takes
 * min(1, overprovisioning × eligible / members) of the calls, each next tier takes its own
 * overprovisioned health of what is left, and shares under 100% in total are normalised. The
 * local tier's health is further multiplied by the latency factor (`zone-latency.ts`).
 *
 * Built with the snapshot; `reweigh` recomputes the loads in place when only the latency factor
 * moved, so picks never allocate.
 */
export class ZoneSplit {
  readonly tiers: readonly Tier[]
  /** Overprovisioned health per tier, before the latency factor. */
  readonly health: Float64Array
  /** Cumulative share of the level's calls per tier. */
  readonly loads: Float64Array
  /** The latency factor the loads were computed with (1: health alone). */
  factor = 1
  readonly #scratch: number[]
  readonly #latency: ZoneLatency | undefined

  constructor(tiers: Tier[], overprovisioning: number, latency: ZoneLatency | undefined) {
    this.tiers = tiers
    this.#latency = latency
    this.health = new Float64Array(tiers.length)
    for (let i = 0; i < tiers.length; i++) {
      const t = tiers[i]!
      this.health[i] = t.members.length === 0 ? 0 : Math.min(1, (overprovisioning * t.eligible) / t.members.length)
    }
    this.loads = new Float64Array(tiers.length)
    this.#scratch = Array.from(this.health)
    this.reweigh(1)
  }

  /** Whether the caller's own zone is the first tier. */
  get hasLocal(): boolean {
    return this.tiers[0]!.rank === 0
  }

  /** Recomputes the loads with the local tier's health × `factor` (off the per-call path). */
  reweigh(factor: number): void {
    this.factor = factor
    const health = this.#scratch
    for (let i = 0; i < health.length; i++) health[i] = this.health[i]!
    if (this.hasLocal) health[0] = health[0]! * factor
    this.loads.set(priorityLoads(health))
  }

  /**
   * Picks in the tier `u` (a uniform position in [0, 1): the level's random draw or key hash,
   * rescaled) falls in, or in another zone when the latency rule asks for a probe; falls through
   * the other tiers nearest first when the chosen one has nothing to give (every local endpoint
   * tried, refused or at its cap: a retry leaves the zone only then).
   */
  select(context: PickContext, u: number): EndpointState | undefined {
    const tiers = this.tiers
    const n = tiers.length
    const loads = this.loads
    let chosen = 0
    while (chosen < n - 1 && u >= loads[chosen]!) chosen++
    // Probes only while every call stays local (otherwise spill-over measures the other zones),
    // never for keyed calls (a key keeps its zone).
    if (chosen === 0 && loads[0]! >= 1 && !context.hasKey && this.#latency !== undefined && this.hasLocal) {
      const probe = this.#latency.probe(context.now)
      if (probe > 0) {
        const found = this.#probe(context, probe)
        if (found !== undefined) return found
      }
    }
    const first = pickInTier(tiers[chosen]!, context)
    if (first !== undefined) return first
    for (let i = 0; i < n; i++) {
      if (i === chosen) continue
      const found = pickInTier(tiers[i]!, context)
      if (found !== undefined) return found
    }
    return undefined
  }

  /**
   * Probe `p` (1, 2, …): runs of `PROBE_RUN` probes to one endpoint, the other tiers in turn, then
   * the next endpoint of each. Undefined when that endpoint cannot take it (the call then goes
   * where it would have gone).
   */
  #probe(context: PickContext, p: number): EndpointState | undefined {
    const others = this.tiers.length - 1
    const run = Math.floor((p - 1) / PROBE_RUN)
    const candidates = this.tiers[1 + (run % others)]!.candidates
    if (candidates.length === 0) return undefined
    const e = candidates[Math.floor(run / others) % candidates.length]!
    return e.inFlight < context.maxInFlight && !context.skipped(e) ? e : undefined
  }
}

/**
 * How many probes in a row go to the same endpoint: a latency estimate is evidence only after
 * `PROBE_ANSWERS` answers (`zone-latency.ts`), so probes are not spread one per endpoint.
 */
const PROBE_RUN = 3

function pickInTier(tier: Tier, context: PickContext): EndpointState | undefined {
  const picker = tier.fallback !== undefined && !context.hasKey ? tier.fallback : tier.picker
  return picker.pick(context) as EndpointState | undefined
}

/**
 * The zone split of a level's `members`, or undefined when the level stays zone-blind: in panic
 * (Envoy applies zone-aware routing only outside panic), under `minEndpoints` members, or all in
 * one tier.
 */
export function splitByZone(
  members: readonly EndpointState[],
  zones: ResolvedZones,
  panic: boolean,
  previous: ZoneSplit | undefined,
  pickers: TierPickers,
  latency: ZoneLatency | undefined,
): ZoneSplit | undefined {
  if (panic || members.length < zones.minEndpoints || members.length === 0) return undefined
  const byRank = new Map<number, EndpointState[]>()
  for (const m of members) {
    const rank = tierRank(m.endpoint.zone, zones)
    let list = byRank.get(rank)
    if (list === undefined) byRank.set(rank, (list = []))
    list.push(m)
  }
  if (byRank.size < 2) return undefined
  const ranks = [...byRank.keys()].sort((a, b) => a - b)
  const tiers: Tier[] = []
  for (const rank of ranks) {
    // Members come sorted by id (hash pickers need a stable order); filtering keeps it.
    const tierMembers = byRank.get(rank)!
    const candidates: EndpointState[] = []
    let eligible = 0
    for (const m of tierMembers) {
      if (m.eligible) eligible++
      if (m.pickable) candidates.push(m)
    }
    const before = previous?.tiers.find((t) => t.rank === rank)
    const { picker, fallback } = pickers(tierMembers, candidates, before)
    tiers.push({ rank, members: tierMembers, candidates, eligible, picker, fallback })
  }
  const split = new ZoneSplit(tiers, zones.overprovisioning, latency)
  if (previous !== undefined && previous.factor !== 1) split.reweigh(previous.factor)
  return split
}
