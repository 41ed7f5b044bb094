import { Detector, type EndpointState } from '../endpoint-state.ts'
import type { Random } from '../internal/random.ts'
import type { PickContext, Picker, PickerFactory } from './picker.ts'

/**
 * Envoy's overprovisioning factor: a level at 1/1.4 ≈ 71% health still carries all its load.
 * (Envoy `overprovisioning_factor` 140.)
 */
export const OVERPROVISIONING = 1.4

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

/** Level shares of the load (Envoy `recalculatePerPriorityState`), cumulative, summing to 1. */
export function priorityLoads(health: readonly number[]): Float64Array {
  const n = health.length
  const cumulative = new Float64Array(n)
  if (n === 0) return cumulative
  const scaled = health.map((h) => Math.min(1, h * OVERPROVISIONING))
  const total = Math.min(
    1,
    scaled.reduce((a, b) => a + b, 0),
  )
  if (total === 0) {
    // Nothing healthy anywhere: the first level takes everything (and is in panic).
    cumulative.fill(1)
    return cumulative
  }
  let remaining = 1
  let sum = 0
  for (let i = 0; i < n; i++) {
    const load = Math.min(remaining, scaled[i]! / total)
    remaining -= load
    sum += load
    cumulative[i] = sum
  }
  // Rounding: the last level closes the distribution.
  cumulative[n - 1] = 1
  for (let i = n - 2; i >= 0 && cumulative[i]! > 1; i--) cumulative[i] = 1
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

/** Whether a level with `eligible` of `total` members balances over all of them (Envoy panic mode). */
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
    const levels: Level[] = []
    const health: number[] = []
    for (const priority of priorities) {
      const members = byPriority.get(priority)!
      // Hash pickers need a stable order: sort by id so every client builds the same ring.
      members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      let eligible = 0
      for (const m of members) if (m.eligible) eligible++
      const panic = inPanic(eligible, members.length, input.panicThreshold)
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
      levels.push({ priority, members, eligible, panic, candidates, picker, fallback })
      health.push(members.length === 0 ? 0 : eligible / members.length)
    }
    return new Selection(levels, priorityLoads(health), input.random)
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
