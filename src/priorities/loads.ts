// Envoy's priority-load arithmetic, shared by priority levels and the zones inside them.

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

/**
 * Whether a level with `eligible` of `total` members is under the panic threshold (Envoy
 * `isHostSetInPanic`). It panics only when the levels together are short of capacity too (`build`).
 */
export function inPanic(eligible: number, total: number, threshold: number): boolean {
  return total > 0 && eligible * 100 < threshold * total
}
