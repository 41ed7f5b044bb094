import { describeError } from './describe-error.ts'
import type { Verdict } from './verdict.ts'

const KEEL_ERROR = Symbol.for('keel.error')

/** Every error keel creates. `code` is stable across versions; match on it, not on messages. */
export class KeelError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    Object.defineProperty(this, KEEL_ERROR, { value: true })
  }

  override get name(): string {
    return this.constructor.name
  }
}

/**
 * True for errors created by any copy of keel (ESM or CJS build, another realm): checks a
 * `Symbol.for` brand instead of `instanceof`.
 */
export function isKeelError(error: unknown): error is KeelError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[KEEL_ERROR] === true
}

/**
 * Why no endpoint could take an attempt:
 * - `empty`: the balancer has no members (none configured, all removed, discovery found none);
 * - `saturated`: every eligible endpoint is at `maxInFlightPerEndpoint`;
 * - `overloaded`: every eligible endpoint asked for a pause (Retry-After) that has not elapsed;
 * - `unavailable`: no endpoint is eligible (ejected, unhealthy, half-open with its trial taken).
 */
export type NoEndpointReason = 'empty' | 'saturated' | 'overloaded' | 'unavailable'

export class NoEndpointAvailableError extends KeelError {
  readonly reason: NoEndpointReason
  /** With `overloaded`: ms until the first endpoint accepts traffic again. */
  readonly retryAfterMs: number | undefined

  constructor(reason: NoEndpointReason, retryAfterMs?: number, options?: { cause?: unknown }) {
    const detail =
      reason === 'empty'
        ? 'the balancer has no endpoints'
        : reason === 'saturated'
          ? 'every endpoint is at maxInFlightPerEndpoint'
          : reason === 'overloaded'
            ? `every endpoint asked to retry later (first in ${Math.ceil(retryAfterMs ?? 0)} ms)`
            : 'no endpoint is eligible (ejected, unhealthy or half-open)'
    super('KEEL_NO_ENDPOINT', `No endpoint available: ${detail}`, options)
    this.reason = reason
    this.retryAfterMs = retryAfterMs
  }
}

/** One finished attempt of a call, as `RetriesExhaustedError.attempts` and `attempt.previous` list it. */
export interface AttemptRecord {
  /** The endpoint's id. */
  readonly endpoint: string
  readonly verdict: Verdict
  /** What the attempt threw, if it threw. */
  readonly error?: unknown
  readonly durationMs: number
}

/**
 * Why the retry machinery stopped with a thrown error after more than one attempt:
 * `retries` (all used), `budget` (the retry budget was empty), `deadline` (no time left for
 * another attempt), `not-retryable` (the last verdict forbids a retry), `no-endpoint` (no endpoint
 * could take the next attempt), `retry-after` (only a shedding endpoint was left and it asked for
 * a longer pause than `retry.maxRetryAfter`).
 */
export type RetriesExhaustedReason = 'retries' | 'budget' | 'deadline' | 'not-retryable' | 'no-endpoint' | 'retry-after'

export class RetriesExhaustedError extends KeelError {
  readonly reason: RetriesExhaustedReason
  readonly attempts: readonly AttemptRecord[]

  /**
   * @param cause the last attempt's error
   */
  constructor(reason: RetriesExhaustedReason, attempts: readonly AttemptRecord[], cause: unknown) {
    // Every attempt, one line each: which endpoint, its verdict, and the error down to its root
    // cause (`fetch failed` alone hides the `ECONNREFUSED` two causes below it).
    const lines = attempts.map((a, i) => {
      const error = a.error === undefined ? '' : `: ${describeError(a.error)}`
      return `  ${i + 1}. ${a.endpoint} ${a.verdict} after ${Math.round(a.durationMs)} ms${error}`
    })
    super(
      'KEEL_RETRIES_EXHAUSTED',
      [`Call failed after ${attempts.length} attempts (${reason}):`, ...lines].join('\n'),
      {
        cause,
      },
    )
    this.reason = reason
    this.attempts = attempts
  }
}

export class DeadlineExceededError extends KeelError {
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super('KEEL_DEADLINE_EXCEEDED', `Call exceeded its ${timeoutMs} ms timeout`)
    this.timeoutMs = timeoutMs
  }
}

export class AttemptTimeoutError extends KeelError {
  readonly timeoutMs: number
  readonly endpoint: string

  constructor(timeoutMs: number, endpoint: string) {
    super('KEEL_ATTEMPT_TIMEOUT', `Attempt to ${endpoint} exceeded its ${timeoutMs} ms timeout`)
    this.timeoutMs = timeoutMs
    this.endpoint = endpoint
  }
}

export class HedgeLostError extends KeelError {
  constructor() {
    super('KEEL_HEDGE_LOST', 'Another attempt of this call answered first')
  }
}

/**
 * A discovery source failed to answer, or answered with nothing usable (no endpoints without
 * `allowEmpty`); the balancer keeps its last set. The source's own error is the `cause`.
 */
export class DiscoveryError extends KeelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KEEL_DISCOVERY', message, options)
  }
}

export class BalancerClosedError extends KeelError {
  constructor() {
    super('KEEL_CLOSED', 'The balancer is closed')
  }
}

export class EndpointRemovedError extends KeelError {
  readonly endpoint: string

  constructor(endpoint: string) {
    super('KEEL_ENDPOINT_REMOVED', `Endpoint ${endpoint} was removed and its drain timeout passed`)
    this.endpoint = endpoint
  }
}
