import type { EventEmitter } from 'eventemitter3'
import type { DetectorName, HealthCheckType } from './detector.ts'
import type { Endpoint } from './endpoint.ts'
import type { Verdict } from './verdict.ts'

export interface EndpointEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
}

export interface EjectedEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
  readonly detector: DetectorName
  readonly reason: string
  /** Clock time (`clock.now()`) at which a timed ejection lifts. */
  readonly until?: number
}

export interface HealthEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
  /** The check's type. */
  readonly check: HealthCheckType
}

/** One ended attempt: the observation hook for metrics and tracing. */
export interface AttemptEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
  readonly verdict: Verdict
  readonly durationMs: number
  /** The attempt's number within its call (1 for the first). */
  readonly attempt: number
  /** Whether keel made another attempt of the call after this one. */
  readonly retried: boolean
  /** Its call's id: unique in the process, shared by the call's attempts. */
  readonly callId: number
  /** Started as a hedge, beside a running attempt of its call. */
  readonly hedge: boolean
  /**
   * What the attempt threw, or what keel cancelled it with (`HedgeLostError`,
   * `AttemptTimeoutError`, the caller's abort reason…); absent when it returned a value.
   */
  readonly error?: unknown
}

export interface RetryEvent<C = unknown> {
  /** The endpoint of the attempt being retried (or hedged). */
  readonly from: Endpoint<C>
  /** The number of the attempt about to start. */
  readonly attempt: number
  /** ms before it starts. */
  readonly delay: number
  /** The call's id (as on its `attempt` events). */
  readonly callId: number
  /**
   * Why, in one line: for a retry, the failed attempt's endpoint, verdict and error
   * (`http://10.0.0.1:80 not-sent: TypeError: fetch failed ← Error: connect ECONNREFUSED …`); for a
   * hedge, `no answer from <endpoint> after <delay> ms`.
   */
  readonly reason: string
  /** Retries only: the failed attempt's verdict. */
  readonly verdict?: Verdict
  /** Retries only: what the failed attempt threw or was cancelled with, if anything. */
  readonly error?: unknown
}

export interface PanicEvent {
  /** Whether the level entered (true) or left (false) panic. */
  readonly active: boolean
  readonly eligible: number
  readonly total: number
  readonly priority: number
}

export interface BudgetEvent {
  /** Retries taken in the budget's window. */
  readonly retries: number
  /** Calls made in the budget's window. */
  readonly requests: number
}

/** `sharedHealthError`: the shared-health channel failed (keel goes on as without sharing). */
export interface SharedHealthErrorEvent {
  readonly code: string
  readonly message: string
  readonly error: unknown
}

export interface WarningEvent {
  readonly code: string
  readonly message: string
}

/** The balancer's events (docs/events.md). State changes before an event is emitted. */
export interface BalancerEvents<C = unknown> {
  endpointAdded: (event: EndpointEvent<C>) => void
  endpointRemoved: (event: EndpointEvent<C>) => void
  ejected: (event: EjectedEvent<C>) => void
  restored: (event: EjectedEvent<C>) => void
  breakerOpen: (event: EndpointEvent<C>) => void
  breakerHalfOpen: (event: EndpointEvent<C>) => void
  breakerClose: (event: EndpointEvent<C>) => void
  healthy: (event: HealthEvent<C>) => void
  unhealthy: (event: HealthEvent<C>) => void
  attempt: (event: AttemptEvent<C>) => void
  retry: (event: RetryEvent<C>) => void
  hedge: (event: RetryEvent<C>) => void
  panic: (event: PanicEvent) => void
  budgetExhausted: (event: BudgetEvent) => void
  discoveryError: (event: { readonly error: unknown }) => void
  /** Shared health (`keel/redis`) lost its channel or failed a command; calls are unaffected. */
  sharedHealthError: (event: SharedHealthErrorEvent) => void
  /** Non-fatal conditions (a Maglev table that had to grow, a resource that failed to close). */
  warning: (event: WarningEvent) => void
}

export type BalancerEventName = keyof BalancerEvents

/**
 * Emits without letting a listener break keel: a listener that throws has its error rethrown on
 * a microtask (where it surfaces as an uncaught exception, as an `EventEmitter` listener's would),
 * never into the attempt path.
 */
export function emitSafely(emitter: EventEmitter, event: string, payload: unknown): void {
  try {
    emitter.emit(event, payload)
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}
