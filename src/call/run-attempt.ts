import type { AdapterCall, AttemptImpl, AttemptReceiver, CallPort, ObservedCall } from '../core/ports.ts'
import type { Attempt } from '../model/attempt.ts'
import type { Endpoint } from '../model/endpoint.ts'

/** The function a call runs against a picked endpoint. */
export type AttemptFn<C, T> = (endpoint: Endpoint<C>, attempt: Attempt) => T | PromiseLike<T>

/**
 * Runs `fn` for an started attempt and ends the attempt exactly once, in `finally`. Never
 * rejects: the outcome is on the attempt.
 */
export async function runAttempt<C, T>(
  core: CallPort,
  fn: AttemptFn<C, T>,
  attempt: AttemptImpl,
  observed: ObservedCall | undefined,
): Promise<void> {
  try {
    attempt.value = await (observed === undefined
      ? fn(attempt.state.endpoint as Endpoint<C>, attempt)
      : observed.run(attempt, fn))
  } catch (error) {
    attempt.threw = true
    attempt.error = error
  } finally {
    attempt.settled = true
    core.finishAttempt(attempt)
  }
}

/**
 * Starts an attempt of a driven call (`AdapterPort.drive`): the adapter's `attempt` runs (in the
 * wrapping call observer's scope, if any) and reports its outcome to `receiver` through the
 * attempt's `succeed` / `fail`. The callback form of `runAttempt`.
 */
export function startDriven(
  call: AdapterCall,
  attempt: AttemptImpl,
  observed: ObservedCall | undefined,
  receiver: AttemptReceiver,
): void {
  attempt.receiver = receiver
  try {
    if (observed === undefined) call.attempt(attempt.state.endpoint, attempt)
    else observed.run(attempt, (endpoint, started) => call.attempt(endpoint, started))
  } catch (error) {
    attempt.fail(error)
  }
}

/** Records what a driven attempt reported, as `runAttempt` records what `fn` settled with. */
export function recordOutcome(attempt: AttemptImpl, threw: boolean, outcome: unknown): void {
  if (threw) {
    attempt.threw = true
    attempt.error = outcome
  } else {
    attempt.value = outcome
  }
  attempt.settled = true
}
