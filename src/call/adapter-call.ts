import type { AdapterCall, AttemptImpl, AttemptReceiver, CallPort, ObservedCall } from '../core/ports.ts'
import { NO_PREVIOUS } from '../model/attempt.ts'
import { BalancerClosedError } from '../model/errors.ts'
import { nextCallId } from './call-id.ts'
import type { ResolvedCall } from './call-options.ts'
import { outcomeOf } from './call-report.ts'
import { CallRun } from './call-run.ts'
import { type AttemptFn, recordOutcome, startDriven } from './run-attempt.ts'

/** Never called: a driven `CallRun` runs its attempts through its `driven` call. */
const DRIVEN: AttemptFn<unknown, unknown> = () => {
  throw new Error('a driven call has no fn')
}

/** The hub as a driven call needs it: the call port, plus the checks `balancer.call` makes first. */
export interface DriveHost extends CallPort {
  readonly phase: 'open' | 'closing' | 'closed'
  /** Until discovery's first answer: runs a call after it (`balancer.call`'s own path). */
  readonly gatedCall: ((fn: AttemptFn<unknown, unknown>, options: ResolvedCall) => Promise<unknown>) | undefined
}

/**
 * Runs an adapter's driven call (`AdapterPort.drive`) the way `balancer.call` runs an `fn`: the
 * simple path when nothing can end the call early, `CallRun` otherwise and after a failed first
 * attempt.
 */
export function driveCall(core: DriveHost, call: AdapterCall, options: ResolvedCall): void {
  if (core.phase !== 'open') {
    rejectLater(call, new BalancerClosedError())
    return
  }
  if (core.gatedCall !== undefined) {
    core.gatedCall(attemptsOf(call), options).then(
      (value) => call.resolved(value),
      (error: unknown) => call.rejected(error),
    )
    return
  }
  if (options.simple) {
    driveSimple(core, call, options)
    return
  }
  const run = new CallRun(core, DRIVEN, options, core.clock.now())
  run.driven = call
  run.start().then(
    (value) => call.resolved(value),
    (error: unknown) => call.rejected(error),
  )
}

/** The promise form of a driven call's attempts: an `fn` for `balancer.call`'s own paths. */
export function attemptsOf(call: AdapterCall): AttemptFn<unknown, unknown> {
  return (_endpoint, attempt) =>
    new Promise((resolve, reject) => {
      startDriven(call, attempt as AttemptImpl, undefined, {
        attemptSettled: (_attempt, threw, outcome) => (threw ? reject(outcome) : resolve(outcome)),
      })
    })
}

/** Rejects a driven call on a microtask: `rejected` never runs before `drive` returned. */
export function rejectLater(call: AdapterCall, error: unknown): void {
  queueMicrotask(() => call.rejected(error))
}

/**
 * `callSimple` for a driven call: one pick, one attempt whose report continues the call. The only
 * object it adds per call is itself (the attempt's receiver).
 */
function driveSimple(core: CallPort, call: AdapterCall, options: ResolvedCall): void {
  core.callStarted()
  const now = core.clock.now()
  const callId = nextCallId()
  const observed = core.observation.start(callId, now)
  let attempt: AttemptImpl
  try {
    core.budget?.deposit(now)
    const state = core.select(options.key, undefined, now)
    attempt = core.startAttempt(state, 1, NO_PREVIOUS, now)
  } catch (error) {
    core.callSettled()
    if (observed !== undefined) core.observation.callEnded(observed, outcomeOf(error), error, core.clock.now())
    rejectLater(call, error)
    return
  }
  attempt.callId = callId
  if (observed !== undefined) core.observation.attemptStarted(observed, attempt)
  startDriven(call, attempt, observed, new SimpleDrive(core, call, options, observed))
}

/** The rest of a simple driven call once its attempt reported. */
class SimpleDrive implements AttemptReceiver {
  readonly core: CallPort
  readonly call: AdapterCall
  readonly options: ResolvedCall
  readonly observed: ObservedCall | undefined

  constructor(core: CallPort, call: AdapterCall, options: ResolvedCall, observed: ObservedCall | undefined) {
    this.core = core
    this.call = call
    this.options = options
    this.observed = observed
  }

  attemptSettled(attempt: AttemptImpl, threw: boolean, outcome: unknown): void {
    const { core, call, observed } = this
    recordOutcome(attempt, threw, outcome)
    core.finishAttempt(attempt)
    // The result rule as in `callSimple`: only a success that did not throw resolves here.
    if (attempt.verdict === 'success' && !attempt.threw) {
      core.emitAttempt(attempt, false)
      if (observed !== undefined) {
        core.observation.attemptEnded(observed, attempt, false)
        core.observation.callEnded(observed, 'success', undefined, core.clock.now())
      }
      core.callSettled()
      call.resolved(attempt.value)
      return
    }
    const run = new CallRun(core, DRIVEN, this.options, attempt.start)
    run.driven = call
    run.continueAfter(attempt, observed).then(
      (value) => {
        core.callSettled()
        call.resolved(value)
      },
      (error: unknown) => {
        core.callSettled()
        call.rejected(error)
      },
    )
  }
}
