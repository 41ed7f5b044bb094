import type { EndpointState } from '../core/ports.ts'
import type { Random } from '../internal/random.ts'
import { Detector } from '../model/detector.ts'
import type { PickContext, Picker, PickerFactory } from '../model/picker.ts'
import { inPanic, levelHealth, normalizedTotalHealth, priorityLoads, totalPanicLoads } from './loads.ts'
import type { ZoneLatency } from './zone-latency.ts'
import type { ResolvedZones } from './zone-options.ts'
import { splitByZone, type ZoneSplit } from './zones.ts'

export {
  inPanic,
  levelHealth,
  normalizedTotalHealth,
  OVERPROVISIONING_PERCENT,
  priorityLoads,
  totalPanicLoads,
} from './loads.ts'

/** One priority level: its members, how many are eligible, and its pickers. */
export interface Level {
  readonly priority: number
  readonly members: readonly EndpointState[]
  readonly eligible: number
  readonly panic: boolean
  /** The pickable members the eligible-scope pickers were built from. */
  readonly candidates: readonly EndpointState[]
  readonly picker: Picker
  /** For calls without a key when `picker` is keyed. */
  readonly fallback: Picker | undefined
  /** The level's zones, nearest first, when zone-aware routing applies to it (`zones.ts`). */
  readonly zones: ZoneSplit | undefined
}

export interface LevelBuildInput {
  readonly members: Iterable<EndpointState>
  readonly picker: PickerFactory
  readonly fallbackPicker: PickerFactory
  readonly panicThreshold: number
  readonly random: Random
  readonly previous: Selection | undefined
  /** Rebuild `members`-scope pickers too (membership or weights changed). */
  readonly rebuildMemberPickers: boolean
  /** Zone-aware routing, when `localZone` is set. */
  readonly zones?: ResolvedZones | undefined
  /** Latency shedding of a slow local zone, when on. */
  readonly latency?: ZoneLatency | undefined
  warn(code: string, message: string): void
}

/**
 * The picker snapshot of a balancer: levels by priority, each with its pickers, and the share
 * of calls each level takes. Rebuilt when eligibility or membership changes; `select` is
 * synchronous and allocation-free.
 */
export class Selection {
  readonly levels: readonly Level[]
  /** Cumulative load per level. */
  readonly loads: Float64Array
  readonly #random: Random

  private constructor(levels: Level[], loads: Float64Array, random: Random) {
    this.levels = levels
    this.loads = loads
    this.#random = random
  }

  static build(input: LevelBuildInput): Selection {
    const byPriority = new Map<number, EndpointState[]>()
    for (const state of input.members) {
      const p = state.endpoint.priority
      let list = byPriority.get(p)
      if (list === undefined) byPriority.set(p, (list = []))
      list.push(state)
    }
    const priorities = [...byPriority.keys()].sort((a, b) => a - b)
    const previousLevels = new Map<number, Level>()
    for (const level of input.previous?.levels ?? []) previousLevels.set(level.priority, level)
    const keyed = input.picker.keyed === true
    const groups: EndpointState[][] = []
    const eligibleCounts: number[] = []
    const health: number[] = []
    for (const priority of priorities) {
      const members = byPriority.get(priority)!
      // Hash pickers need a stable order: sort by id so every client builds the same ring.
      members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      let eligible = 0
      for (const m of members) if (m.eligible) eligible++
      groups.push(members)
      eligibleCounts.push(eligible)
      health.push(levelHealth(eligible, members.length))
    }
    // Envoy `recalculatePerPriorityPanic`: no level panics while the levels together still have
    // full capacity (normalised total health 100%): the load spills to the next level instead of
    // onto ejected endpoints. When every level panics, the load follows member counts.
    const mayPanic = normalizedTotalHealth(health) < 1
    let allPanic = groups.length > 0
    const panics: boolean[] = []
    for (let i = 0; i < groups.length; i++) {
      const panic = mayPanic && inPanic(eligibleCounts[i]!, groups[i]!.length, input.panicThreshold)
      panics.push(panic)
      allPanic &&= panic
    }
    const levels: Level[] = []
    for (let i = 0; i < groups.length; i++) {
      const priority = priorities[i]!
      const members = groups[i]!
      const panic = panics[i]!
      const candidates: EndpointState[] = []
      for (const m of members) {
        // In panic a level balances over all its members, ejected included, except those that
        // asked for a pause (overload) or are leaving; half-open gating still applies at admission.
        m.pickable = panic ? !m.draining && (m.ejectedBy & Detector.overload) === 0 : m.eligible
        if (m.pickable) candidates.push(m)
      }
      const previous = previousLevels.get(priority)
      const context = (prev: Picker | undefined) => ({ random: input.random, previous: prev, warn: input.warn })
      const build = (factory: PickerFactory, prev: Picker | undefined): Picker => {
        if (factory.scope === 'members') {
          if (!input.rebuildMemberPickers && prev !== undefined) return prev
          return factory.build(members, context(prev))
        }
        return factory.build(candidates, context(prev))
      }
      const picker = build(input.picker, previous?.picker)
      const fallback = keyed ? build(input.fallbackPicker, previous?.fallback) : undefined
      // Zones inside the level: each tier gets pickers of its own, built the same way.
      const zones =
        input.zones === undefined
          ? undefined
          : splitByZone(
              members,
              input.zones,
              panic,
              previous?.zones,
              (tierMembers, tierCandidates, before) => {
                const tierBuild = (factory: PickerFactory, prev: Picker | undefined): Picker =>
                  factory.scope === 'members'
                    ? !input.rebuildMemberPickers && prev !== undefined
                      ? prev
                      : factory.build(tierMembers, context(prev))
                    : factory.build(tierCandidates, context(prev))
                return {
                  picker: tierBuild(input.picker, before?.picker),
                  fallback: keyed ? tierBuild(input.fallbackPicker, before?.fallback) : undefined,
                }
              },
              input.latency,
            )
      if (zones !== undefined) input.latency?.evaluate(priority, zones)
      levels.push({ priority, members, eligible: eligibleCounts[i]!, panic, candidates, picker, fallback, zones })
    }
    const loads = allPanic ? totalPanicLoads(groups.map((g) => g.length)) : priorityLoads(health)
    return new Selection(levels, loads, input.random)
  }

  /**
   * Chooses a level (by the key's hash for keyed calls, so a key keeps its level while the loads
   * hold; at random otherwise) and asks its picker; falls through the other levels in priority
   * order when the chosen one has nothing to give.
   */
  select(context: PickContext): EndpointState | undefined {
    const levels = this.levels
    const n = levels.length
    if (n === 0) return undefined
    if (n === 1) {
      const only = levels[0]!
      return only.zones === undefined ? pickIn(only, context, 0) : pickIn(only, context, this.#draw(context))
    }
    const u = this.#draw(context)
    const loads = this.loads
    let chosen = 0
    while (chosen < n - 1 && u >= loads[chosen]!) chosen++
    // The draw, rescaled to the chosen level's range, also chooses its zone: one draw per pick,
    // and a key keeps its zone as it keeps its level.
    const low = chosen === 0 ? 0 : loads[chosen - 1]!
    const high = loads[chosen]!
    const first = pickIn(levels[chosen]!, context, high > low ? (u - low) / (high - low) : 0)
    if (first !== undefined) return first
    for (let i = 0; i < n; i++) {
      if (i === chosen) continue
      const found = pickIn(levels[i]!, context, 0)
      if (found !== undefined) return found
    }
    return undefined
  }

  /** Recomputes every level's latency factor (the rule's timer; off the per-call path). */
  reweigh(latency: ZoneLatency): void {
    for (const level of this.levels) if (level.zones !== undefined) latency.evaluate(level.priority, level.zones)
  }

  #draw(context: PickContext): number {
    return context.hasKey ? (context.hashLo >>> 0) / 4294967296 : this.#random()
  }
}

function pickIn(level: Level, context: PickContext, u: number): EndpointState | undefined {
  if (level.zones !== undefined) return level.zones.select(context, u)
  const picker = level.fallback !== undefined && !context.hasKey ? level.fallback : level.picker
  return picker.pick(context) as EndpointState | undefined
}
