import { checkNumber, section, TIMER, typeError } from '../internal/validate.ts'

// The `slowStart` option section.

/** Slow start (Envoy `slow_start_config`): ramps new and restored endpoints up over `window`. */
export interface SlowStartOptions {
  /** Ramp duration, in ms. */
  readonly window: number
  /** Weight at the start of the ramp, as a percentage of the full weight. @default 10 */
  readonly minWeightPercent?: number
  /** Ramp shape: weight ∝ (elapsed / window)^(1 / aggression). @default 1 (linear) */
  readonly aggression?: number
}

export interface ResolvedSlowStart {
  readonly window: number
  readonly minWeightPercent: number
  readonly aggression: number
}

export function resolveSlowStart(value: unknown): ResolvedSlowStart | false {
  if (value === undefined || value === false) return false
  const s = section('slowStart', value, ['window', 'minWeightPercent', 'aggression'])!
  if (s.window === undefined) throw typeError('slowStart.window', 'a positive number of ms', s.window)
  return Object.freeze({
    window: checkNumber('slowStart.window', s.window, TIMER)!,
    minWeightPercent: checkNumber('slowStart.minWeightPercent', s.minWeightPercent, { min: 0, max: 100 }) ?? 10,
    aggression: checkNumber('slowStart.aggression', s.aggression, { min: 0, minExclusive: true, max: 100 }) ?? 1,
  })
}
