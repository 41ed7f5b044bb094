import { checkFunction, checkNumber, MAX_TIMER, rangeError } from '../internal/validate.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { Verdict } from '../model/verdict.ts'
import type { RetryBudgetOptions } from './budget-options.ts'

// The `retry` option section: public types, resolved form, its one default and its validation.

/** What `retry.shouldRetry` is asked after a failed attempt. */
export interface RetryDecision {
  readonly verdict: Verdict
  /** The attempt that just ended (1-based). */
  readonly attempt: number
  readonly endpoint: Endpoint<unknown>
  readonly idempotent: boolean
  /** What the attempt threw, if it threw. */
  readonly error?: unknown
  /** What the attempt returned, if it returned. */
  readonly value?: unknown
  /** keel's own answer, which `undefined` keeps. */
  readonly retryable: boolean
}

/** Retry-with-failover settings that a call may override. */
export interface CallRetryOptions {
  /** Retries after the first attempt; each goes to an endpoint not yet tried when one is eligible. @default 2 */
  readonly retries?: number
  /** Smallest backoff before a retry, in ms (exponential, full jitter). @default 25 */
  readonly minTimeout?: number
  /** Largest backoff before a retry, in ms. @default 250 */
  readonly maxTimeout?: number
  /** Growth of the backoff per retry. @default 2 */
  readonly factor?: number
  /** Longest Retry-After / grpc-retry-pushback-ms keel honours, in ms; longer ones are capped. @default 30_000 */
  readonly maxRetryAfter?: number
  /**
   * Overrides keel's decision after a failed attempt: `true` retries, `false` stops, `undefined`
   * keeps keel's answer (`decision.retryable`). Never called for `cancelled`.
   */
  readonly shouldRetry?: (decision: RetryDecision) => boolean | undefined
}

export interface RetryOptions extends CallRetryOptions {
  /** The balancer-wide retry budget; `false` turns it off. Calls cannot override it. */
  readonly budget?: RetryBudgetOptions | false
}

export interface ResolvedRetry {
  readonly retries: number
  readonly minTimeout: number
  readonly maxTimeout: number
  readonly factor: number
  readonly maxRetryAfter: number
  readonly shouldRetry: ((decision: RetryDecision) => boolean | undefined) | undefined
}

/** Two retries, 25 ms × 2ⁿ backoff capped at 250 ms (full jitter), Retry-After honoured up to 30 s. */
export const DEFAULT_RETRY: ResolvedRetry = Object.freeze({
  retries: 2,
  minTimeout: 25,
  maxTimeout: 250,
  factor: 2,
  maxRetryAfter: 30_000,
  shouldRetry: undefined,
})

export const CALL_RETRY_KEYS = [
  'retries',
  'minTimeout',
  'maxTimeout',
  'factor',
  'maxRetryAfter',
  'shouldRetry',
] as const

export function resolveRetrySettings(name: string, value: Record<string, unknown>, base: ResolvedRetry): ResolvedRetry {
  const retries = checkNumber(`${name}.retries`, value.retries, { integer: true, min: 0, max: 100 }) ?? base.retries
  const minTimeout = checkNumber(`${name}.minTimeout`, value.minTimeout, { min: 0, max: MAX_TIMER }) ?? base.minTimeout
  const maxTimeout = checkNumber(`${name}.maxTimeout`, value.maxTimeout, { min: 0, max: MAX_TIMER }) ?? base.maxTimeout
  if (maxTimeout < minTimeout) {
    throw rangeError(`${name}.maxTimeout`, `a number ≥ \`${name}.minTimeout\` (${minTimeout})`, maxTimeout)
  }
  const factor = checkNumber(`${name}.factor`, value.factor, { min: 1, max: 100 }) ?? base.factor
  const maxRetryAfter =
    checkNumber(`${name}.maxRetryAfter`, value.maxRetryAfter, { min: 0, max: MAX_TIMER }) ?? base.maxRetryAfter
  const shouldRetry = checkFunction<NonNullable<ResolvedRetry['shouldRetry']>>(`${name}.shouldRetry`, value.shouldRetry)
  return Object.freeze({
    retries,
    minTimeout,
    maxTimeout,
    factor,
    maxRetryAfter,
    shouldRetry: shouldRetry ?? base.shouldRetry,
  })
}
