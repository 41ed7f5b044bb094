import type { ClassifyResult } from '../../classify/classify.ts'
import type { ResolvedRetry } from '../../core/ports.ts'
import type { CallOptions, CallRetryOptions } from '../../options/options.ts'

/** The per-call retry settings an HTTP adapter passes: one for replayable bodies, one for streams. */
export interface RetryPolicies {
  /**
   * Replayable body: keel's rules. Never after a response handed to the caller: the adapter
   * tells keel so through `AttemptControl.handOver()`.
   */
  readonly replayable: CallRetryOptions | undefined
  /** Body that can be read once (a stream): retried only after `not-sent` (docs/retries.md). */
  readonly once: CallRetryOptions | undefined
  /** Retries keel may make after a first attempt (0 when retries are off). */
  readonly retries: number
}

/**
 * Builds the adapter's retry settings once per adapter instance (a call's `retry` object is
 * validated once per identity). The balancer's own `shouldRetry` still runs, after the
 * adapter's vetoes. Undefined settings leave the balancer's as they are (retries off stays off).
 */
export function retryPolicies(base: ResolvedRetry | false): RetryPolicies {
  if (base === false) return { replayable: undefined, once: undefined, retries: 0 }
  const user = base.shouldRetry
  return {
    // The balancer's own settings, `shouldRetry` included.
    replayable: undefined,
    once: {
      shouldRetry: (decision) => (decision.verdict !== 'not-sent' ? false : user?.(decision)),
    },
    retries: base.retries,
  }
}

/**
 * The four call options an adapter needs, indexed by `(once ? 2 : 0) + (idempotent ? 1 : 0)`:
 * constant objects, so the per-call path allocates none and keel validates their `retry` once.
 * A body that can be read once is never hedged: a hedge is a second send.
 */
export function callOptionsTable(policies: RetryPolicies): readonly CallOptions[] {
  const table: CallOptions[] = []
  for (const once of [false, true]) {
    const retry = once ? policies.once : policies.replayable
    for (const idempotent of [false, true]) {
      const options: CallOptions = retry === undefined ? { idempotent } : { idempotent, retry }
      table.push(Object.freeze(once ? { ...options, hedge: false as const } : options))
    }
  }
  return table
}

/**
 * Whether keel could retry after a response classified `result` (docs/retries.md verdict rules): an
 * adapter holds such a response back from the caller until keel has decided, and hands any other
 * response over at once.
 */
export function mayRetryResponse(result: ClassifyResult, idempotent: boolean): boolean {
  const verdict = typeof result === 'string' ? result : result.verdict
  if (verdict === 'not-sent') return true
  if (verdict === 'endpoint-failure') return idempotent
  if (verdict === 'overloaded') return idempotent || (typeof result !== 'string' && result.refused === true)
  return false
}
