/**
 * What an attempt's outcome means for its endpoint and for the call (docs/classification.md):
 * - `success`: a good answer;
 * - `endpoint-failure`: the endpoint failed (5xx, reset after the request was written, timeout);
 *   counts against it; retryable when the call is idempotent;
 * - `not-sent`: the request provably never left (refused, connect timeout, DNS failure); counts
 *   against the endpoint; retryable even when not idempotent;
 * - `overloaded`: the endpoint shed load (429, 503 with Retry-After, RESOURCE_EXHAUSTED): it is
 *   paused for the server's delay but nothing counts against it;
 * - `caller-error`: the request was wrong (other 4xx); healthy for the endpoint, never retried;
 * - `cancelled`: keel or the caller aborted the attempt; releases in-flight only.
 */
export type Verdict = 'success' | 'endpoint-failure' | 'not-sent' | 'overloaded' | 'caller-error' | 'cancelled'

/** A verdict with what the classifier learnt beside it. */
export interface Classification {
  readonly verdict: Verdict
  /** With `overloaded`: how long the server asked to be left alone, in ms. */
  readonly retryAfterMs?: number
  /**
   * The server said it did not process the request (429, RESOURCE_EXHAUSTED), so it may be
   * retried even when the call is not idempotent.
   */
  readonly refused?: boolean
}

export const VERDICTS: readonly Verdict[] = Object.freeze([
  'success',
  'endpoint-failure',
  'not-sent',
  'overloaded',
  'caller-error',
  'cancelled',
])
