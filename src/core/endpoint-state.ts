import type { TimerEntry } from '../internal/timer-queue.ts'
import { PeakEwma } from '../load/peak-ewma.ts'
import { type BreakerPhase, Detector } from '../model/detector.ts'
import type { Endpoint } from '../model/endpoint.ts'
import { EndpointInfo } from '../model/endpoint.ts'
import type { PickerEndpoint } from '../model/picker.ts'
import type { AttemptImpl } from './attempt.ts'

/** Reaches the balancer's per-endpoint resources for `endpoint.client`. */
export interface ResourceOwner {
  clientFor(state: EndpointState): unknown
}

/** The `Endpoint` handed to user code: the parsed endpoint plus its client. */
export class BalancedEndpoint<C = unknown> extends EndpointInfo implements Endpoint<C> {
  readonly #state: EndpointState
  readonly #owner: ResourceOwner

  constructor(info: EndpointInfo, state: EndpointState, owner: ResourceOwner) {
    super(info)
    this.#state = state
    this.#owner = owner
  }

  get client(): C {
    return this.#owner.clientFor(this.#state) as C
  }

  /** Applies an update that kept the id (weight, priority, zone, servername, metadata). */
  assign(info: EndpointInfo): void {
    const self = this as { -readonly [K in keyof EndpointInfo]: EndpointInfo[K] }
    self.weight = info.weight
    self.priority = info.priority
    self.zone = info.zone
    self.servername = info.servername
    self.metadata = info.metadata
  }
}

/** A per-endpoint resource and when it was made (for `maxConnectionAge`). */
export interface ResourceSlot {
  value: unknown
  createdAt: number
  /** Recreate after this clock time (`maxConnectionAge` with jitter), or Infinity. */
  expiresAt: number
}

/**
 * Everything the balancer knows about one endpoint. Lives as long as the id is a member or
 * draining; survives updates that keep the id. Fields are written only by the balancer core and
 * its detectors; pickers read them through `PickerEndpoint`.
 */
export class EndpointState implements PickerEndpoint {
  readonly endpoint: BalancedEndpoint<unknown>
  readonly id: string
  /** Effective weight (static weight × slow-start factor). */
  weight: number
  inFlight = 0
  pickable = true
  /** Marks the endpoint skipped for the pick whose stamp equals it (see `PickContext.skipped`). */
  skipStamp = 0
  readonly load: PeakEwma

  // Counters for snapshot() and detectors.
  requests = 0
  failures = 0
  ejections = 0

  /** Bits of `Detector` whose ejection is in force. */
  ejectedBy = 0
  /** Bits of `Detector` that flagged the endpoint, in force or held back by the cap. */
  flaggedBy = 0
  /** With the overload detector: clock time the endpoint accepts traffic again. */
  overloadUntil = 0
  /** `overloaded` answers since its last success: each doubles the shortest pause. */
  overloadStreak = 0
  /** Timers that lift timed ejections (outlier, overload), by detector bit. */
  ejectionTimers: Map<number, TimerEntry> | undefined

  breakerPhase: BreakerPhase = 'closed'
  /** A half-open or probation trial is in flight. */
  trialInFlight = false
  /**
   * Restored on probation by outlier detection's re-admission probe: like a half-open breaker, it
   * takes one trial attempt at a time until an answer ends the probation.
   */
  probation = false
  /** Detector-owned records (created by the detector that uses them). */
  breaker: unknown
  outlier: unknown
  health: unknown

  /** Became a member (or was restored) at this clock time: slow start ramps from it. */
  activeSince: number

  draining = false
  drainEntry: TimerEntry | undefined
  /** Live attempts, an intrusive doubly linked list through `AttemptImpl.prevInEndpoint/nextInEndpoint`. */
  firstAttempt: AttemptImpl | undefined
  resources: Map<string, ResourceSlot> | undefined

  constructor(info: EndpointInfo, owner: ResourceOwner, now: number, initialLatencyMs: number, decayMs: number) {
    this.endpoint = new BalancedEndpoint(info, this, owner)
    this.id = info.id
    this.weight = info.weight
    this.load = new PeakEwma(initialLatencyMs, now, decayMs)
    this.activeSince = now
  }

  latencyMs(now: number): number {
    return this.load.loaded(now, this.inFlight)
  }

  /** Eligible without panic: a member, not draining, not ejected (a half-open breaker is, for its trial). */
  get eligible(): boolean {
    if (this.draining) return false
    const e = this.ejectedBy
    return e === 0 || (e === Detector.breaker && this.breakerPhase === 'half-open')
  }

  linkAttempt(attempt: AttemptImpl): void {
    const head = this.firstAttempt
    attempt.nextInEndpoint = head
    attempt.prevInEndpoint = undefined
    if (head !== undefined) head.prevInEndpoint = attempt
    this.firstAttempt = attempt
  }

  unlinkAttempt(attempt: AttemptImpl): void {
    const { prevInEndpoint: prev, nextInEndpoint: next } = attempt
    if (prev !== undefined) prev.nextInEndpoint = next
    else if (this.firstAttempt === attempt) this.firstAttempt = next
    if (next !== undefined) next.prevInEndpoint = prev
    attempt.prevInEndpoint = undefined
    attempt.nextInEndpoint = undefined
  }

  /** The live attempts, copied (cancelling one unlinks it). */
  liveAttempts(): AttemptImpl[] {
    const list: AttemptImpl[] = []
    for (let a = this.firstAttempt; a !== undefined; a = a.nextInEndpoint) list.push(a)
    return list
  }
}
