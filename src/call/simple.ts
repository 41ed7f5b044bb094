import type { AttemptImpl, CallPort } from '../core/ports.ts'
import { NO_PREVIOUS } from '../model/attempt.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { ResolvedCall } from './call-options.ts'
import { type AttemptFn, CallRun } from './call-run.ts'

/**
 * The path of a call that nothing can end early (no signal, timeout, attempt timeout or hedge):
 * one pick, one attempt awaited in place. Only a failed first attempt builds a `CallRun` and
 * enters the retry machinery, so the success path never touches p-retry.
 */
export async function callSimple<C, T>(core: CallPort, fn: AttemptFn<C, T>, options: ResolvedCall): Promise<T> {
  core.callStarted()
  const now = core.clock.now()
  let attempt: AttemptImpl
  try {
    core.budget?.deposit(now)
    const state = core.select(options.key, undefined, now)
    attempt = core.startAttempt(state, 1, NO_PREVIOUS, now)
  } catch (error) {
    core.callSettled()
    throw error
  }
  // `runAttempt`'s body, inlined: each async frame around the I/O is paid on every call (its
  // promise and frame live for the whole exchange), and this path is most calls'.
  try {
    attempt.value = await fn(attempt.state.endpoint as Endpoint<C>, attempt)
  } catch (error) {
    attempt.threw = true
    attempt.error = error
  } finally {
    attempt.settled = true
    core.finishAttempt(attempt)
  }
  try {
    if (attempt.verdict === 'success') {
      core.emitAttempt(attempt, false)
      return attempt.value as T
    }
    return await new CallRun<C, T>(core, fn, options, now).continueAfter(attempt)
  } finally {
    core.callSettled()
  }
}
