import type { EndpointState } from '../core/ports.ts'
import type { Random } from '../internal/random.ts'
import { Detector } from '../model/detector.ts'
import type { PickContext, Picker, PickerFactory } from '../model/picker.ts'

/**
 * Envoy's overprovisioning factor, as a percentage (`overprovisioning_factor` 140): a level at
 * 1/1.4 ≈ 71.4% health still carries all its load.
 */
export const OVERPROVISIONING_PERCENT = 140

/**
 * A level's share of capacity: min(1, eligible / members × 1.4) (Envoy `recalculatePerPriorityState`),
 * computed in integers first so a level exactly at 1/1.4 is exactly 1.
 */
export function levelHealth(eligible: number, members: number): number {
  return members === 0 ? 0 : Math.min(1, (eligible * OVERPROVISIONING_PERCENT) / (members * 100))
}

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
}

/**
 * Level shares of the load, cumulative, from each level's `levelHealth` (Envoy `distributeLoad`):
 * the levels' health is normalised by their sum capped at 1 (the "normalised total health"), and
 * each level takes its normalised health from what the levels above it left. Nothing healthy
 * anywhere: the first level takes everything.
 */
export function priorityLoads(health: readonly number[]): Float64Array {
  const n = health.length
  const cumulative = new Float64Array(n)
  if (n === 0) return cumulative
  const total = normalizedTotalHealth(health)
  if (total === 0) {
    cumulative.fill(1)
    return cumulative
  }
  let remaining = 1
  let sum = 0
  for (let i = 0; i < n; i++) {
    const load = Math.min(remaining, health[i]! / total)
    remaining -= load
    sum += load
    cumulative[i] = sum
  }
  // Rounding: the last level closes the distribution.
  cumulative[n - 1] = 1
  for (let i = n - 2; i >= 0 && cumulative[i]! > 1; i--) cumulative[i] = 1
  return cumulative
}

/** Σ level health, capped at 1 (Envoy's normalised total health). */
export function normalizedTotalHealth(health: readonly number[]): number {
  let total = 0
  for (const h of health) total += h
  return Math.min(1, total)
}

/**
 * Level shares when every level is in panic (Envoy `recalculateLoadInTotalPanic`): by member
 * count, health ignored, cumulative.
 */
export function totalPanicLoads(sizes: readonly number[]): Float64Array {
  const n = sizes.length
  const cumulative = new Float64Array(n)
  let all = 0
  for (const size of sizes) all += size
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += all === 0 ? (i === 0 ? 1 : 0) : sizes[i]! / all
    cumulative[i] = sum
  }
  if (n > 0) cumulative[n - 1] = 1
  return cumulative
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
  warn(code: string, message: string): void
}

/**
 * Whether a level with `eligible` of `total` members is under the panic threshold (Envoy
 * `isHostSetInPanic`). It panics only when the levels together are short of capacity too (`build`).
 */
export function inPanic(eligible: number, total: number, threshold: number): boolean {
  return total > 0 && eligible * 100 < threshold * total
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
      levels.push({ priority, members, eligible: eligibleCounts[i]!, panic, candidates, picker, fallback })
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
    if (n === 1) return pickIn(levels[0]!, context)
    if (n === 0) return undefined
    const u = context.hasKey ? (context.hashLo >>> 0) / 4294967296 : this.#random()
    const loads = this.loads
    let chosen = 0
    while (chosen < n - 1 && u >= loads[chosen]!) chosen++
    const first = pickIn(levels[chosen]!, context)
    if (first !== undefined) return first
    for (let i = 0; i < n; i++) {
      if (i === chosen) continue
      const found = pickIn(levels[i]!, context)
      if (found !== undefined) return found
    }
    return undefined
  }
}

function pickIn(level: Level, context: PickContext): EndpointState | undefined {
  const picker = level.fallback !== undefined && !context.hasKey ? level.fallback : level.picker
  return picker.pick(context) as EndpointState | undefined
}
