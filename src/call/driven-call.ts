import type { AttemptImpl, CallPort } from '../core/ports.ts'
import type { RetriesExhaustedReason } from '../model/errors.ts'
import type { ResolvedCall } from './call-options.ts'
import type { Decision } from './decide.ts'

/**
 * The one interface through which the retry loop (`retry.ts`) and hedging (`hedge.ts`) drive a
 * call (`CallRun`): the call owns its attempts, history and settlement; the loops only decide
 * when to start, wait and stop.
 */
export interface DrivenCall {
  readonly core: CallPort
  readonly options: ResolvedCall
  /** The call settled (result, caller abort, deadline, close): loops stop at their next step. */
  readonly settled: boolean
  /** The call's id, unique in the process (on its events, channel messages and spans). */
  readonly callId: number
  /** Starts the next attempt on a picked endpoint, strictly an untried one for a hedge. Throws `NoEndpointAvailableError`. */
  launch(hedge?: boolean): AttemptImpl
  /** Runs a launched attempt's `fn`; `attempt.onEnd` fires when it ends (or keel ends it). */
  run(attempt: AttemptImpl): void
  /**
   * An attempt ended without deciding its round (a failed or losing hedge): no longer live,
   * recorded in the history, `attempt` emitted.
   */
  note(attempt: AttemptImpl): void
  /** One round: an attempt (and its hedges) until it ends; returns the attempt that decides it. */
  round(): Promise<AttemptImpl>
  /** Whether to retry after `attempt`, and after how long; emits `attempt` (and `retry`). */
  decide(attempt: AttemptImpl): Decision
  /** Waits `ms` on the balancer's timer; false at once if the call ends meanwhile. */
  wait(ms: number): Promise<boolean>
  /** Settles by the result rule from the last attempt. */
  finish(reason: RetriesExhaustedReason | undefined): void
  /** Settles with an error that is not an attempt's. */
  fail(error: unknown): void
}
