import { channels } from '../diagnostics/channels.ts'
import type { CallOutcome } from '../model/call-outcome.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { AttemptImpl } from './attempt.ts'

export type { CallOutcome }

/**
 * Told about calls and their attempts, in order: `callStarted`, then per attempt
 * `attemptStarted` and `attemptEnded` (once, at the moment of the `attempt` event, with whether
 * the call retried after it), then `callEnded` (which may come before a hedge loser's or an
 * aborted attempt's `attemptEnded`). An add-on's observer (metrics, tracing) keeps what it needs
 * per call itself. Keep it cheap: it runs on the call path.
 */
export interface CallObserver {
  callStarted?(call: ObservedCall): void
  attemptStarted?(call: ObservedCall, attempt: AttemptImpl): void
  /**
   * Runs `fn`'s invocation for the attempt (tracing makes the attempt's span current there).
   * One observer per balancer may have it.
   */
  runAttempt?<R>(call: ObservedCall, attempt: AttemptImpl, run: () => R): R
  attemptEnded?(call: ObservedCall, attempt: AttemptImpl, retried: boolean): void
  callEnded?(call: ObservedCall, outcome: CallOutcome, error: unknown): void
}

/** A call someone observes. Made only then: an unobserved call allocates nothing for this. */
export class ObservedCall {
  readonly callId: number
  readonly startedAt: number
  /** Attempts started so far. */
  attempts = 0
  readonly #observation: CallObservation

  constructor(observation: CallObservation, callId: number, startedAt: number) {
    this.#observation = observation
    this.callId = callId
    this.startedAt = startedAt
  }

  /** Runs `fn(endpoint, attempt)`, inside the wrapping observer's scope when there is one. */
  run<C, R>(attempt: AttemptImpl, fn: (endpoint: Endpoint<C>, attempt: AttemptImpl) => R): R {
    const wrapper = this.#observation.wrapper
    const endpoint = attempt.state.endpoint as unknown as Endpoint<C>
    if (wrapper === undefined) return fn(endpoint, attempt)
    return wrapper.runAttempt!(this, attempt, () => fn(endpoint, attempt))
  }
}

/**
 * A balancer's call observers and keel's diagnostics channels: the one place the call path asks
 * "is anyone watching?" (`start` returns undefined when nobody is) and tells them what happens.
 */
export class CallObservation {
  readonly balancer: object
  readonly #observers: CallObserver[] = []
  wrapper: CallObserver | undefined

  constructor(balancer: object) {
    this.balancer = balancer
  }

  add(observer: CallObserver): () => void {
    if (observer.runAttempt !== undefined) {
      if (this.wrapper !== undefined) throw new Error("Another observer already wraps this balancer's attempts")
      this.wrapper = observer
    }
    this.#observers.push(observer)
    return () => {
      const i = this.#observers.indexOf(observer)
      if (i !== -1) this.#observers.splice(i, 1)
      if (this.wrapper === observer) this.wrapper = undefined
    }
  }

  /** A call starts: returns its observation, or undefined when no observer nor channel subscriber watches. */
  start(callId: number, now: number): ObservedCall | undefined {
    if (
      this.#observers.length === 0 &&
      !channels.callStart.hasSubscribers &&
      !channels.callEnd.hasSubscribers &&
      !channels.attemptStart.hasSubscribers &&
      !channels.attemptEnd.hasSubscribers
    )
      return undefined
    const call = new ObservedCall(this, callId, now)
    if (channels.callStart.hasSubscribers) channels.callStart.publish({ balancer: this.balancer, callId })
    for (const observer of this.#observers) {
      try {
        observer.callStarted?.(call)
      } catch (error) {
        rethrow(error)
      }
    }
    return call
  }

  attemptStarted(call: ObservedCall, attempt: AttemptImpl): void {
    call.attempts++
    if (channels.attemptStart.hasSubscribers) {
      channels.attemptStart.publish({
        balancer: this.balancer,
        callId: call.callId,
        attempt: attempt.number,
        endpoint: attempt.state.endpoint,
        hedge: attempt.hedge,
      })
    }
    for (const observer of this.#observers) {
      try {
        observer.attemptStarted?.(call, attempt)
      } catch (error) {
        rethrow(error)
      }
    }
  }

  attemptEnded(call: ObservedCall, attempt: AttemptImpl, retried: boolean): void {
    if (channels.attemptEnd.hasSubscribers) {
      const error = attempt.cancelled ? attempt.cancelReason : attempt.threw ? attempt.error : undefined
      channels.attemptEnd.publish({
        balancer: this.balancer,
        callId: call.callId,
        attempt: attempt.number,
        endpoint: attempt.state.endpoint,
        verdict: attempt.verdict,
        durationMs: attempt.durationMs,
        retried,
        hedge: attempt.hedge,
        ...(error === undefined ? {} : { error }),
      })
    }
    for (const observer of this.#observers) {
      try {
        observer.attemptEnded?.(call, attempt, retried)
      } catch (error) {
        rethrow(error)
      }
    }
  }

  callEnded(call: ObservedCall, outcome: CallOutcome, error: unknown, now: number): void {
    if (channels.callEnd.hasSubscribers) {
      channels.callEnd.publish({
        balancer: this.balancer,
        callId: call.callId,
        outcome,
        attempts: call.attempts,
        durationMs: now - call.startedAt,
        ...(outcome === 'success' ? {} : { error }),
      })
    }
    for (const observer of this.#observers) {
      try {
        observer.callEnded?.(call, outcome, error)
      } catch (thrown) {
        rethrow(thrown)
      }
    }
  }
}

/** An observer's throw must not break the call: it surfaces on a microtask instead. */
function rethrow(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
