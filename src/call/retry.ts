import pRetry, { AbortError } from 'p-retry'
import type { AttemptImpl } from '../core/ports.ts'
import { NoEndpointAvailableError } from '../model/errors.ts'
import { type Decision, DONE } from './decide.ts'
import type { DrivenCall } from './driven-call.ts'

/** Thrown inside p-retry's loop to ask for another attempt; never escapes keel. */
class RetrySignal extends Error {}
const RETRY = new RetrySignal('retry')

/**
 * The retry loop (docs/retries.md), run on p-retry once a first attempt has failed with a retryable
 * verdict. p-retry owns the loop and the count; keel owns every decision: `CallRun.decide` applies
 * the verdict rules, the budget and the deadline, and the backoff wait runs in `shouldRetry` on
 * the balancer's clock with its random jitter (p-retry's own timer and `Math.random` are unused:
 * `minTimeout: 0`). A caller's abort ends the call at once, also during a backoff — the wait
 * resolves as soon as the call settles (p-retry issue #97 otherwise waits out the backoff).
 * Attempt 1 is replayed as an immediate failure, so p-retry's attempt numbers are keel's.
 */
export async function retryLoop(call: DrivenCall, first: Decision): Promise<void> {
  let decision = first
  try {
    await pRetry(
      async (attemptNumber: number) => {
        if (attemptNumber === 1) throw RETRY
        let attempt: AttemptImpl
        try {
          attempt = await call.round()
        } catch (error) {
          // No endpoint can take this retry: stop without another (AbortError ends p-retry).
          throw new AbortError(error instanceof Error ? error : new Error(String(error)))
        }
        decision = DONE
        decision = call.decide(attempt)
        if (decision.retry) throw RETRY
      },
      {
        retries: call.options.retry === false ? 0 : call.options.retry.retries,
        minTimeout: 0,
        factor: 1,
        randomize: false,
        // Only a fresh decision to retry goes on: a round that ended without one stops the loop.
        shouldRetry: () => (decision.retry ? call.wait(decision.delay) : false),
      },
    )
    call.finish(decision.reason)
  } catch (error) {
    if (error === RETRY) call.finish(decision.reason ?? 'retries')
    else if (error instanceof NoEndpointAvailableError) call.finish('no-endpoint')
    else call.fail(error)
  }
}
