import type { BalancerPort, EjectionChange, EjectionListener, EjectionPort, EndpointState } from '../core/ports.ts'
import { CAPPED_DETECTORS, Detector, type DetectorName } from '../model/detector.ts'

/** What `ejected` and `restored` events carry. */
export interface EjectionEvent {
  readonly endpoint: EndpointState['endpoint']
  readonly detector: DetectorName
  readonly reason: string
  /** Clock time (`clock.now()`) at which a timed ejection lifts. */
  readonly until?: number
}

/** What the ejection state needs from the balancer. */
export type EjectionHost = Pick<BalancerPort, 'memberCount' | 'members' | 'invalidate' | 'emit' | 'timers'>

/**
 * One ejection state per balancer, fed by every detector (breaker, outlier, health, overload,
 * shared health). Breaker, outlier and shared-health ejections share `maxEjectionPercent` (Envoy
 * `max_ejection_percent`, at least one endpoint): a detector that would exceed it still records
 * its own state, but the endpoint stays eligible. A breaker held back this way is ejected as soon
 * as a slot frees; an outlier (or shared-health) detection that found no slot is dropped, as in
 * Envoy (shared health tries again on its next message or report).
 */
export class EjectionState implements EjectionPort {
  readonly #host: EjectionHost
  readonly #maxPercent: number
  /** Members with a capped ejection in force. */
  #capped = 0
  /** Add-ons' listeners (`AddOnPort.addEjectionListener`). */
  #listeners: EjectionListener[] | undefined

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
    this.#changed(
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
    this.#changed('restored', { endpoint: state.endpoint, detector, reason })
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
      for (const entry of state.ejectionTimers.values()) this.#host.timers.cancel(entry)
      state.ejectionTimers = undefined
    }
  }

  /** Adds an add-on's listener; returns its remover. */
  addListener(listener: EjectionListener): () => void {
    const listeners = (this.#listeners ??= [])
    listeners.push(listener)
    return () => {
      const i = listeners.indexOf(listener)
      if (i !== -1) listeners.splice(i, 1)
    }
  }

  #changed(kind: 'ejected' | 'restored', event: EjectionEvent): void {
    this.#host.emit(kind, event)
    const listeners = this.#listeners
    if (listeners === undefined || listeners.length === 0) return
    const change: EjectionChange = { kind, ...event }
    for (const listener of [...listeners]) {
      try {
        listener(change)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
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
      this.#changed('ejected', { endpoint: state.endpoint, detector: 'breaker', reason: 'open' })
    }
  }

  #scheduleRestore(state: EndpointState, bit: number, detector: DetectorName, until: number): void {
    this.#cancelTimer(state, bit)
    const entry = this.#host.timers.schedule(until, () => {
      state.ejectionTimers?.delete(bit)
      this.restore(state, detector, 'expired')
    })
    ;(state.ejectionTimers ??= new Map()).set(bit, entry)
  }

  #cancelTimer(state: EndpointState, bit: number): void {
    const entry = state.ejectionTimers?.get(bit)
    if (entry === undefined) return
    this.#host.timers.cancel(entry)
    state.ejectionTimers!.delete(bit)
  }
}
