import type { AttemptImpl, CallPort } from '../core/ports.ts'
import { NO_PREVIOUS } from '../model/attempt.ts'
import type { Endpoint } from '../model/endpoint.ts'
import { nextCallId } from './call-id.ts'
import type { ResolvedCall } from './call-options.ts'
import { outcomeOf } from './call-report.ts'
import { type AttemptFn, CallRun } from './call-run.ts'

/**
 * The path of a call that nothing can end early (no signal, timeout, attempt timeout or hedge):
 * one pick, one attempt awaited in place. Only a failed first attempt builds a `CallRun` and
 * enters the retry machinery, so the success path never touches p-retry.
 */
export async function callSimple<C, T>(core: CallPort, fn: AttemptFn<C, T>, options: ResolvedCall): Promise<T> {
  core.callStarted()
  const now = core.clock.now()
  const callId = nextCallId()
  // Undefined unless a call observer or a channel subscriber watches: nothing else is built then.
  const observed = core.observation.start(callId, now)
  let attempt: AttemptImpl
  try {
    core.budget?.deposit(now)
    const state = core.select(options.key, undefined, now)
    attempt = core.startAttempt(state, 1, NO_PREVIOUS, now)
  } catch (error) {
    core.callSettled()
    if (observed !== undefined) core.observation.callEnded(observed, outcomeOf(error), error, core.clock.now())
    throw error
  }
  attempt.callId = callId
  if (observed !== undefined) core.observation.attemptStarted(observed, attempt)
  // `runAttempt`'s body, inlined: each async frame around the I/O is paid on every call (its
  // promise and frame live for the whole exchange), and this path is most calls'.
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
  try {
    // A success that threw (a user's `classify` may say so) still rejects: the result rule is
    // CallRun's, which never returns the value of an attempt that threw.
    if (attempt.verdict === 'success' && !attempt.threw) {
      core.emitAttempt(attempt, false)
      if (observed !== undefined) {
        core.observation.attemptEnded(observed, attempt, false)
        core.observation.callEnded(observed, 'success', undefined, core.clock.now())
      }
      return attempt.value as T
    }
    return await new CallRun<C, T>(core, fn, options, now).continueAfter(attempt, observed)
  } finally {
    core.callSettled()
  }
}
