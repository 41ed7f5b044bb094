import type { ClassifyResult } from '../classify/classify.ts'
import type { TimerEntry } from '../internal/timer-queue.ts'
import type { Attempt } from '../model/attempt.ts'
import type { Endpoint } from '../model/endpoint.ts'
import { type AttemptRecord, AttemptTimeoutError } from '../model/errors.ts'
import type { Verdict } from '../model/verdict.ts'
import type { EndpointState } from './endpoint-state.ts'

export type { Attempt }

/** Who ends an adapter's exchange when keel cancels its attempt (`AttemptControl.canceller`). */
export interface AttemptCanceller {
  /** keel gave up on the attempt (deadline, attempt timeout, lost hedge, drain timeout, close). */
  attemptCancelled(reason: unknown): void
}

/** The call an attempt of a driven call reports to (`AdapterPort.drive`). */
export interface AttemptReceiver {
  /** The attempt's `fn` equivalent settled: `threw` says whether `outcome` is its error or its value. */
  attemptSettled(attempt: AttemptImpl, threw: boolean, outcome: unknown): void
}

/**
 * One attempt of a call. Started by the balancer, ended exactly once: when `fn` settles or when
 * keel cancels it, whichever comes first (`ended` guards the second).
 */
export class AttemptImpl implements Attempt {
  readonly number: number
  readonly previous: readonly AttemptRecord[]
  readonly state: EndpointState
  readonly start: number
  /** The half-open breaker's or probation's trial of its endpoint (until an established exchange passes it). */
  trial: boolean

  controller: AbortController | undefined
  /** Set when keel cancels the attempt; its class decides the verdict, never what `fn` threw. */
  cancelReason: unknown = undefined
  cancelled = false
  ended = false

  /** What `fn` produced, once it settled. */
  settled = false
  threw = false
  value: unknown = undefined
  error: unknown = undefined

  verdict: Verdict = 'cancelled'
  retryAfterMs = 0
  refused = false
  durationMs = 0

  /** The call's id (unique in the process): on `attempt` events, channels and spans. */
  callId = 0
  /** Started as a hedge (beside a running attempt of its call), not after one ended. */
  hedge = false

  /** The adapter's verdict (`knownVerdict`), read by keel's rules instead of classifying. */
  hint: Verdict | undefined = undefined
  /** The response reached the caller (`handOver`): never retried after. */
  handedOver = false
  /** The adapter's classification of the returned value (`classified`). */
  result: ClassifyResult | undefined = undefined
  /** Its latency sample when the adapter marked it established (`AdapterPort.established`). */
  latencyMs: number | undefined = undefined

  timeoutEntry: TimerEntry | undefined = undefined
  prevInEndpoint: AttemptImpl | undefined = undefined
  nextInEndpoint: AttemptImpl | undefined = undefined
  /** Wakes whoever waits for this attempt to end (calls that can end early). */
  onEnd: (() => void) | undefined = undefined
  /**
   * Told once when keel cancels the attempt, with keel's reason: how an adapter maps keel's
   * cancellation onto its client (the gRPC adapter's `call.cancel()`, the HTTP adapters' dispatch
   * abort) without an `AbortController` and a listener on every attempt (≈ 0.7 µs on Node 24).
   * An object, not a function: the adapter's own per-attempt object takes the call, so no
   * closure is allocated per attempt.
   */
  canceller: AttemptCanceller | undefined = undefined
  /** Who hears a driven attempt's outcome (`succeed` / `fail`): its call, until the first report. */
  receiver: AttemptReceiver | undefined = undefined

  constructor(state: EndpointState, number: number, previous: readonly AttemptRecord[], start: number, trial: boolean) {
    this.state = state
    this.number = number
    this.previous = previous
    this.start = start
    this.trial = trial
  }

  get endpoint(): Endpoint<unknown> {
    return this.state.endpoint
  }

  handOver(): void {
    this.handedOver = true
  }

  knownVerdict(verdict: Verdict): void {
    this.hint = verdict
  }

  classified(result: ClassifyResult): void {
    this.result = result
  }

  succeed(value: unknown): void {
    const receiver = this.receiver
    if (receiver === undefined) return
    this.receiver = undefined
    receiver.attemptSettled(this, false, value)
  }

  fail(error: unknown): void {
    const receiver = this.receiver
    if (receiver === undefined) return
    this.receiver = undefined
    receiver.attemptSettled(this, true, error)
  }

  get signal(): AbortSignal {
    let controller = this.controller
    if (controller === undefined) {
      controller = this.controller = new AbortController()
      if (this.cancelled) controller.abort(this.cancelReason)
    }
    return controller.signal
  }

  /** Marks the attempt cancelled by keel and aborts its signal if it was read. */
  markCancelled(reason: unknown): void {
    this.cancelled = true
    this.cancelReason = reason
    // keel's own attempt timeout means the endpoint was too slow: an endpoint failure, not a cancel.
    this.verdict = reason instanceof AttemptTimeoutError ? 'endpoint-failure' : 'cancelled'
    this.controller?.abort(reason)
    const canceller = this.canceller
    if (canceller !== undefined) {
      this.canceller = undefined
      canceller.attemptCancelled(reason)
    }
  }

  /** What the attempt threw or was cancelled with; undefined when it returned. */
  get failure(): unknown {
    return this.cancelled ? this.cancelReason : this.threw ? this.error : undefined
  }

  record(): AttemptRecord {
    const base = { endpoint: this.state.id, verdict: this.verdict, durationMs: this.durationMs }
    if (this.cancelled) return { ...base, error: this.cancelReason }
    return this.threw ? { ...base, error: this.error } : base
  }
}
