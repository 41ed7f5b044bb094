import type { AttemptRecord } from './errors.ts'

/** What `fn` receives beside the endpoint. */
export interface Attempt {
  /** 1 for the first attempt of a call, 2 for its first retry or hedge, and so on. */
  readonly number: number
  /**
   * Aborted when keel gives up on this attempt: the caller aborted, the call's deadline or the
   * attempt's timeout passed, another attempt won a hedge, the endpoint's drain timed out, or the
   * balancer closed. Pass it to your client. Created on first read, so an `fn` that never reads
   * it pays nothing for it.
   */
  readonly signal: AbortSignal
  /** The call's earlier attempts, oldest first. */
  readonly previous: readonly AttemptRecord[]
}

/** The `previous` of a call's first attempt. */
export const NO_PREVIOUS: readonly AttemptRecord[] = Object.freeze([])
