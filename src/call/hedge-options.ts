import { checkNumber, MAX_TIMER, section, typeError } from '../internal/validate.ts'

// The `hedge` option section (balancer and call).

/** Hedged requests ("The Tail at Scale"): idempotent calls only. */
export interface HedgeOptions {
  /** ms after an attempt starts before a hedge is sent, or `'p95'` of recent attempt latency. */
  readonly delay: number | 'p95'
  /** Attempts in flight at once for one call, the first included. @default 2 */
  readonly maxAttempts?: number
}

export interface ResolvedHedge {
  readonly delay: number | 'p95'
  readonly maxAttempts: number
}

export function resolveHedge(name: string, value: unknown): ResolvedHedge | false {
  if (value === undefined || value === false) return false
  const hedge = section(name, value, ['delay', 'maxAttempts'])!
  let delay: number | 'p95'
  if (hedge.delay === 'p95') delay = 'p95'
  else if (typeof hedge.delay === 'number')
    delay = checkNumber(`${name}.delay`, hedge.delay, { min: 0, max: MAX_TIMER })!
  else throw typeError(`${name}.delay`, "a number of ms or 'p95'", hedge.delay)
  const maxAttempts = checkNumber(`${name}.maxAttempts`, hedge.maxAttempts, { integer: true, min: 2, max: 10 }) ?? 2
  return Object.freeze({ delay, maxAttempts })
}
