import { checkNumber, section } from '../internal/validate.ts'

// The `budget` option section (the retry budget).

/** The retry budget (Finagle `RetryBudget`, tower `TpsBudget`): retries ≤ percent of calls + a floor. */
export interface RetryBudgetOptions {
  /** Retries allowed as a percentage of calls in the window. @default 20 */
  readonly percent?: number
  /** Retries always allowed per second, whatever the call rate (the budget's floor). @default 10 */
  readonly minPerSecond?: number
  /** How far back calls and retries count, in ms. @default 10_000 */
  readonly window?: number
}

export interface ResolvedBudget {
  readonly percent: number
  readonly minPerSecond: number
  readonly window: number
}

/** Finagle's `RetryBudget` defaults: 20% of calls, at least 10 retries per second, over 10 s. */
export const DEFAULT_BUDGET: ResolvedBudget = Object.freeze({ percent: 20, minPerSecond: 10, window: 10_000 })

export function resolveBudget(value: unknown): ResolvedBudget | false {
  if (value === false) return false
  const budget = section('retry.budget', value, ['percent', 'minPerSecond', 'window'])
  if (budget === undefined) return DEFAULT_BUDGET
  return Object.freeze({
    percent: checkNumber('retry.budget.percent', budget.percent, { min: 0, max: 1000 }) ?? DEFAULT_BUDGET.percent,
    minPerSecond:
      checkNumber('retry.budget.minPerSecond', budget.minPerSecond, { min: 0, max: 1e6 }) ??
      DEFAULT_BUDGET.minPerSecond,
    window: checkNumber('retry.budget.window', budget.window, { min: 100, max: 3_600_000 }) ?? DEFAULT_BUDGET.window,
  })
}
