import type {
  AdapterCall,
  AttemptImpl,
  AttemptReceiver,
  CallOutcome,
  CallPort,
  EndpointState,
  ObservedCall,
} from '../core/ports.ts'
import { abortReason } from '../internal/abort.ts'
import { type AbortWatcher, watchAbort } from '../internal/abort-watch.ts'
import type { TimerEntry } from '../internal/timer-queue.ts'
import { NO_PREVIOUS } from '../model/attempt.ts'
import {
  type AttemptRecord,
  DeadlineExceededError,
  NoEndpointAvailableError,
  RetriesExhaustedError,
  type RetriesExhaustedReason,
} from '../model/errors.ts'
import { nextCallId } from './call-id.ts'
import type { ResolvedCall } from './call-options.ts'
import { outcomeOf, retryEvent } from './call-report.ts'
import { type Decision, DONE, decideRetry } from './decide.ts'
import type { DrivenCall } from './driven-call.ts'
import { hedgedRound } from './hedge.ts'
import { retryLoop } from './retry.ts'
import { type AttemptFn, recordOutcome, runAttempt, startDriven } from './run-attempt.ts'

export type { AttemptFn }

/**
 * A call with everything that can end it early: the caller's signal, an overall deadline,
 * attempt timeouts, hedges, retries. It settles once — with its last attempt's outcome, or at
 * once when the caller aborts or the deadline passes — and cancels its live attempts then.
 */
export class CallRun<C, T> implements AbortWatcher, DrivenCall, AttemptReceiver {
  readonly core: CallPort
  readonly fn: AttemptFn<C, T>
  /** An adapter's driven call (`AdapterPort.drive`): its attempts run through it instead of `fn`. */
  driven: AdapterCall | undefined = undefined
  readonly options: ResolvedCall
  readonly startedAt: number
  readonly deadline: number
  /**
   * Records of ended attempts that were followed by another, oldest first. The last attempt's
   * record is made only when an error needs the whole history, so a call that succeeds at once
   * builds none.
   */
  readonly history: AttemptRecord[] = []
  /** Endpoints tried so far: retries and hedges go elsewhere while another is eligible. */
  #firstTried: EndpointState | undefined
  #tried: EndpointState[] | undefined
  /** Attempts started, and retries decided. */
  #started = 0
  #retriesUsed = 0
  /** The attempt a decided retry will replace, kept as `last` until the retry starts. */
  #superseded: AttemptImpl | undefined
  /** A decided retry drew from the budget and has not launched yet (refunded if it never does). */
  #withdrawn = false
  /** When the first attempt starts: the call's start, or later after a wait for discovery. */
  readonly #firstAt: number
  /** Attempts in flight: the current one, and more while hedging. */
  #live: AttemptImpl | AttemptImpl[] | undefined
  /** The latest attempt that ended: the result rule reads it. */
  last: AttemptImpl | undefined
  settled = false
  readonly promise: Promise<T>
  #resolve!: (value: T) => void
  #reject!: (error: unknown) => void
  #deadlineEntry: TimerEntry | undefined
  #waitEntry: TimerEntry | undefined
  #wake: ((proceed: boolean) => void) | undefined
  #abortWatch: Set<AbortWatcher> | undefined
  /** This run counts in `core.pending` (the simple path counts its own call). */
  #counted = false
  /** The call's id, unique in the process. */
  callId = 0
  /** Its observation, when someone watches calls. */
  observed: ObservedCall | undefined
  /** How it ended, when something other than its last attempt decided (abort, deadline). */
  #outcome: CallOutcome | undefined

  /**
   * @param startedAt when the call began: its deadline counts from here
   * @param firstAt when its first attempt starts, if later (a call that waited for discovery)
   */
  constructor(core: CallPort, fn: AttemptFn<C, T>, options: ResolvedCall, startedAt: number, firstAt = startedAt) {
    this.core = core
    this.fn = fn
    this.options = options
    this.startedAt = startedAt
    this.#firstAt = firstAt
    this.deadline = options.timeout === undefined ? Number.POSITIVE_INFINITY : startedAt + options.timeout
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  /** Starts the call from its first attempt. */
  start(): Promise<T> {
    const { core, options } = this
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    core.callStarted()
    this.#counted = true
    this.callId = nextCallId()
    this.observed = core.observation.start(this.callId, this.startedAt)
    core.budget?.deposit(this.startedAt)
    this.#arm()
    void this.#drive(undefined)
    return this.promise
  }

  /** Takes over after the simple path's failed first attempt. */
  continueAfter(first: AttemptImpl, observed: ObservedCall | undefined): Promise<T> {
    this.callId = first.callId
    this.observed = observed
    void this.#drive(first)
    return this.promise
  }

  /** Ends the call now (caller abort, deadline, balancer close), cancelling its live attempts. */
  cancel(reason: unknown): void {
    if (this.settled) return
    this.#outcome = reason instanceof DeadlineExceededError ? 'deadline' : 'cancelled'
    // A retry was decided but the call ends first: the value it would have replaced is released.
    const superseded = this.#superseded
    if (superseded !== undefined) {
      this.#superseded = undefined
      this.#forget(superseded)
    }
    this.#settle(false, reason)
    const live = this.#live
    if (live === undefined) return
    if (Array.isArray(live)) for (const attempt of [...live]) this.core.cancelAttempt(attempt, reason)
    else this.core.cancelAttempt(live, reason)
  }

  onAbort(reason: unknown): void {
    this.#abortWatch = undefined
    this.cancel(reason)
  }

  /**
   * Starts the next attempt on a picked endpoint (avoiding those this call tried) without waiting
   * for it. Throws `NoEndpointAvailableError` when nothing can take it.
   */
  launch(hedge = false, now = this.core.clock.now()): AttemptImpl {
    const { core, options } = this
    const state = core.select(options.key, this.#triedList(), now, hedge)
    this.#noteTried(state)
    this.#withdrawn = false
    const superseded = this.#superseded
    if (superseded !== undefined) {
      this.#superseded = undefined
      this.#forget(superseded)
    }
    const previous = this.history.length === 0 ? NO_PREVIOUS : Object.freeze(this.history.slice())
    const attempt = core.startAttempt(state, ++this.#started, previous, now)
    attempt.callId = this.callId
    attempt.hedge = hedge
    const observed = this.observed
    if (observed !== undefined) core.observation.attemptStarted(observed, attempt)
    this.#addLive(attempt)
    if (options.attemptTimeout !== undefined) core.armAttemptTimeout(attempt, options.attemptTimeout)
    return attempt
  }

  /** Runs a launched attempt's `fn`; `attempt.onEnd` fires when it ends (or keel ends it). */
  run(attempt: AttemptImpl): void {
    if (this.driven !== undefined) startDriven(this.driven, attempt, this.observed, this)
    else void runAttempt(this.core, this.fn, attempt, this.observed)
  }

  attemptSettled(attempt: AttemptImpl, threw: boolean, outcome: unknown): void {
    recordOutcome(attempt, threw, outcome)
    this.core.finishAttempt(attempt)
  }

  /**
   * One round: an attempt (or, for a hedged call, an attempt and its hedges) until it ends.
   * Returns the attempt that decides the round.
   */
  async round(): Promise<AttemptImpl> {
    const { options } = this
    const hedge = options.hedge
    if (hedge !== false && options.idempotent) {
      const decides = await hedgedRound(this, hedge)
      this.#removeLive(decides)
      return (this.last = decides)
    }
    // The first attempt starts when the call did: one clock read per call, not two.
    const attempt = this.#started === 0 ? this.launch(false, this.#firstAt) : this.launch()
    // keel may end the attempt before `fn` settles (attempt timeout, drain, close): a call that
    // can end early waits for whichever comes first.
    const ended = new Promise<void>((resolve) => {
      attempt.onEnd = resolve
    })
    this.run(attempt)
    await ended
    this.#removeLive(attempt)
    this.last = attempt
    return attempt
  }

  /**
   * Records an attempt that ended without deciding its round (a failed hedge, a losing one):
   * it joins the history and emits its `attempt` event.
   */
  note(attempt: AttemptImpl): void {
    this.#removeLive(attempt)
    this.#ended(attempt, false)
    this.#forget(attempt)
  }

  /** An attempt whose outcome the call will not return: into the history, its value released. */
  #forget(attempt: AttemptImpl): void {
    this.history.push(attempt.record())
    if (attempt.settled && !attempt.threw && attempt.value !== undefined) this.core.classifier.discard(attempt.value)
  }

  /**
   * After an attempt ended: whether to retry, and after how long (docs/retries.md verdict rules, the
   * user's `shouldRetry`, retries left, the deadline, overload pauses and the retry budget).
   * Emits `attempt`, and `retry` when one follows.
   */
  decide(attempt: AttemptImpl): Decision {
    const decision = this.settled ? DONE : decideRetry(this, this.#retriesUsed, attempt)
    this.#ended(attempt, decision.retry)
    if (decision.retry) {
      this.#retriesUsed++
      this.#withdrawn = this.core.budget !== undefined
      // The attempt stays the call's last until the retry actually starts: if no endpoint can
      // take the retry, the call still settles like it (with its value, not yet discarded).
      this.#superseded = attempt
      // The reason formats the error: only for a listener.
      if (this.core.listens('retry'))
        this.core.emit('retry', retryEvent(attempt, this.#started + 1, decision.delay, this.callId))
    }
    return decision
  }

  /** Waits `ms` on the balancer's timer; resolves false at once if the call ends meanwhile. */
  wait(ms: number): Promise<boolean> {
    if (this.settled) return Promise.resolve(false)
    if (ms <= 0) return Promise.resolve(true)
    // While it waits, the call has no attempt `close()` could cancel: it registers itself instead.
    const core = this.core
    core.waiting(this, true)
    return new Promise<boolean>((resolve) => {
      this.#wake = resolve
      this.#waitEntry = core.timers.schedule(
        core.clock.now() + ms,
        () => {
          this.#waitEntry = undefined
          this.#wake = undefined
          core.waiting(this, false)
          resolve(!this.settled)
        },
        true,
      )
    })
  }

  /** Settles by the result rule (docs/calls.md) from the last attempt. */
  finish(reason: RetriesExhaustedReason | undefined): void {
    if (this.settled) return
    const last = this.last!
    if (last.cancelled && last.verdict === 'cancelled') {
      this.#settle(false, last.cancelReason)
    } else if (!last.cancelled && !last.threw) {
      this.#settle(true, last.value)
    } else {
      const error = last.cancelled ? last.cancelReason : last.error
      if (this.history.length === 0) this.#settle(false, error)
      else {
        const attempts = Object.freeze([...this.history, last.record()])
        this.#settle(false, new RetriesExhaustedError(reason ?? 'retries', attempts, error))
      }
    }
  }

  /** Settles with an error that is not an attempt's (e.g. no endpoint for the first attempt). */
  fail(error: unknown): void {
    this.#outcome ??= outcomeOf(error)
    this.#settle(false, error)
  }

  async #drive(first: AttemptImpl | undefined): Promise<void> {
    try {
      let attempt = first
      if (attempt === undefined) {
        attempt = await this.round()
      } else {
        this.last = attempt
        this.#started = 1
        this.#noteTried(attempt.state)
      }
      // decide() runs even when the call already settled (aborted, deadline): every ended attempt
      // is recorded and emits exactly one `attempt` event.
      const decision = this.decide(attempt)
      if (!decision.retry) return this.finish(decision.reason)
      await retryLoop(this, decision)
    } catch (error) {
      // Only the first pick can throw here (NoEndpointAvailableError); retries stop instead.
      if (this.last === undefined || !(error instanceof NoEndpointAvailableError)) this.fail(error)
      else this.finish('no-endpoint')
    }
  }

  /** The endpoints to avoid, or undefined on the first attempt (most calls never build a list). */
  #triedList(): readonly EndpointState[] | undefined {
    if (this.#tried !== undefined) return this.#tried
    if (this.#firstTried === undefined) return undefined
    return (this.#tried = [this.#firstTried])
  }

  #noteTried(state: EndpointState): void {
    if (this.#firstTried === undefined) this.#firstTried = state
    else if (this.#tried !== undefined && !this.#tried.includes(state)) this.#tried.push(state)
  }

  #addLive(attempt: AttemptImpl): void {
    const live = this.#live
    if (live === undefined) this.#live = attempt
    else if (Array.isArray(live)) live.push(attempt)
    else this.#live = [live, attempt]
  }

  #removeLive(attempt: AttemptImpl): void {
    const live = this.#live
    if (live === attempt) this.#live = undefined
    else if (Array.isArray(live)) {
      const i = live.indexOf(attempt)
      if (i !== -1) live.splice(i, 1)
      if (live.length === 0) this.#live = undefined
    }
  }

  #arm(): void {
    const { core, options } = this
    if (options.timeout !== undefined) {
      const timeout = options.timeout
      // Not `keepAlive`: like `AbortSignal.timeout()`, a deadline runs beside work that keeps the
      // process alive itself (an attempt's I/O, or a backoff wait, which does keep it alive).
      this.#deadlineEntry = core.timers.schedule(this.deadline, () => {
        this.#deadlineEntry = undefined
        this.cancel(new DeadlineExceededError(timeout))
      })
    }
    if (options.signal !== undefined) this.#abortWatch = watchAbort(options.signal, this)
  }

  /** An attempt's end, once the call decided what follows it: its event and its observers. */
  #ended(attempt: AttemptImpl, retried: boolean): void {
    this.core.emitAttempt(attempt, retried)
    if (this.observed !== undefined) this.core.observation.attemptEnded(this.observed, attempt, retried)
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.settled) return
    this.settled = true
    const { core } = this
    if (this.#deadlineEntry !== undefined) core.timers.cancel(this.#deadlineEntry)
    if (this.#waitEntry !== undefined) {
      core.timers.cancel(this.#waitEntry)
      core.waiting(this, false)
    }
    if (this.#abortWatch !== undefined) this.#abortWatch.delete(this)
    const wake = this.#wake
    this.#wake = undefined
    wake?.(false)
    if (this.#withdrawn) {
      // The decided retry never launched (no endpoint, or the call ended during the wait).
      this.#withdrawn = false
      core.budget?.refund(core.clock.now())
    }
    if (this.#counted) core.callSettled()
    const observed = this.observed
    if (observed !== undefined) {
      // Caller abort and deadline first; otherwise the attempt the call settled with says.
      const outcome = ok ? 'success' : (this.#outcome ?? this.last?.verdict ?? 'cancelled')
      core.observation.callEnded(observed, outcome, ok ? undefined : value, core.clock.now())
    }
    if (ok) this.#resolve(value as T)
    else this.#reject(value)
  }
}
