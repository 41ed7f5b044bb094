import { CAPPED_DETECTORS, Detector, type DetectorName, type EndpointState } from '../core/endpoint-state.ts'
import type { TimerEntry } from '../internal/timer-queue.ts'

/** What `ejected` and `restored` events carry. */
export interface EjectionEvent {
  readonly endpoint: EndpointState['endpoint']
  readonly detector: DetectorName
  readonly reason: string
  /** Clock time (`clock.now()`) at which a timed ejection lifts. */
  readonly until?: number
}

/** What the ejection state needs from the balancer. */
export interface EjectionHost {
  /** Members that count toward `maxEjectionPercent` (all levels, draining excluded). */
  memberCount(): number
  members(): Iterable<EndpointState>
  /** Eligibility changed: rebuild the picker snapshot before the next pick. */
  invalidate(): void
  emit(event: 'ejected' | 'restored', payload: EjectionEvent): void
  schedule(at: number, fire: () => void): TimerEntry
  cancel(entry: TimerEntry): void
}

/**
 * One ejection state per balancer, fed by every detector (breaker, outlier, health, overload).
 * Breaker and outlier ejections share `maxEjectionPercent` (Envoy `max_ejection_percent`, at
 * least one endpoint): a detector that would exceed it still records its own state, but the
 * endpoint stays eligible. A breaker held back this way is ejected as soon as a slot frees;
 * an outlier detection that found no slot is dropped, as in Envoy.
 */
export class EjectionState {
  readonly #host: EjectionHost
  readonly #maxPercent: number
  /** Members with a capped ejection in force. */
  #capped = 0

  constructor(host: EjectionHost, maxEjectionPercent: number) {
    this.#host = host
    this.#maxPercent = maxEjectionPercent
  }

  /** How many endpoints breakers and outlier detection may eject together now. */
  get limit(): number {
    return Math.max(1, Math.ceil((this.#host.memberCount() * this.#maxPercent) / 100))
  }

  get cappedCount(): number {
    return this.#capped
  }

  /**
   * Ejects `state` on behalf of `detector`, for good or `until` a clock time. Returns whether
   * the ejection is in force (false when the cap held it back).
   */
  eject(state: EndpointState, detector: DetectorName, reason: string, until?: number): boolean {
    const bit = Detector[detector]
    const capped = (bit & CAPPED_DETECTORS) !== 0
    if (until !== undefined) this.#scheduleRestore(state, bit, detector, until)
    if ((state.ejectedBy & bit) !== 0) return true
    if (capped && (state.ejectedBy & CAPPED_DETECTORS) === 0 && !state.draining) {
      if (this.#capped >= this.limit) {
        // Over the cap: a breaker keeps its flag (and is ejected when a slot frees); an outlier
        // detection is dropped along with its timer.
        if (detector === 'breaker') state.flaggedBy |= bit
        else this.#cancelTimer(state, bit)
        return false
      }
      this.#capped++
    }
    state.flaggedBy |= bit
    state.ejectedBy |= bit
    state.ejections++
    this.#host.invalidate()
    this.#host.emit(
      'ejected',
      until === undefined
        ? { endpoint: state.endpoint, detector, reason }
        : { endpoint: state.endpoint, detector, reason, until },
    )
    return true
  }

  /** Lifts `detector`'s ejection of `state` (or its held flag). */
  restore(state: EndpointState, detector: DetectorName, reason: string): void {
    const bit = Detector[detector]
    this.#cancelTimer(state, bit)
    state.flaggedBy &= ~bit
    if ((state.ejectedBy & bit) === 0) return
    state.ejectedBy &= ~bit
    if ((bit & CAPPED_DETECTORS) !== 0 && (state.ejectedBy & CAPPED_DETECTORS) === 0 && !state.draining) {
      this.#capped--
      this.#promoteHeld()
    }
    this.#host.invalidate()
    this.#host.emit('restored', { endpoint: state.endpoint, detector, reason })
  }

  /** A member started draining: it no longer holds a cap slot. */
  memberLeft(state: EndpointState): void {
    if ((state.ejectedBy & CAPPED_DETECTORS) !== 0) {
      this.#capped--
      this.#promoteHeld()
    }
  }

  /** A draining member came back: it holds its slot again (even over the cap: it was ejected). */
  memberRejoined(state: EndpointState): void {
    if ((state.ejectedBy & CAPPED_DETECTORS) !== 0) this.#capped++
  }

  /** Whether `state` has `detector`'s flag, in force or held. */
  flagged(state: EndpointState, detector: DetectorName): boolean {
    return (state.flaggedBy & Detector[detector]) !== 0
  }

  /** Drops every timer (the balancer is closing). */
  close(): void {
    for (const state of this.#host.members()) {
      if (state.ejectionTimers === undefined) continue
      for (const entry of state.ejectionTimers.values()) this.#host.cancel(entry)
      state.ejectionTimers = undefined
    }
  }

  #promoteHeld(): void {
    for (const state of this.#host.members()) {
      if (this.#capped >= this.limit) return
      const held = state.flaggedBy & ~state.ejectedBy & CAPPED_DETECTORS
      if (held === 0 || state.draining) continue
      if ((state.ejectedBy & CAPPED_DETECTORS) === 0) this.#capped++
      state.ejectedBy |= held
      state.ejections++
      this.#host.invalidate()
      this.#host.emit('ejected', { endpoint: state.endpoint, detector: 'breaker', reason: 'open' })
    }
  }

  #scheduleRestore(state: EndpointState, bit: number, detector: DetectorName, until: number): void {
    this.#cancelTimer(state, bit)
    const entry = this.#host.schedule(until, () => {
      state.ejectionTimers?.delete(bit)
      this.restore(state, detector, 'expired')
    })
    ;(state.ejectionTimers ??= new Map()).set(bit, entry)
  }

  #cancelTimer(state: EndpointState, bit: number): void {
    const entry = state.ejectionTimers?.get(bit)
    if (entry === undefined) return
    this.#host.cancel(entry)
    state.ejectionTimers!.delete(bit)
  }
}
