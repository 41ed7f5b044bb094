import type { EventEmitter } from 'eventemitter3'
import type { DetectorName, HealthCheckType } from './detector.ts'
import type { Endpoint } from './endpoint.ts'
import type { Verdict } from './verdict.ts'

/** Payload of `endpointAdded`, `endpointRemoved` and the breaker events: the endpoint concerned. */
export interface EndpointEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
}

/** Payload of `ejected` and `restored`: which detector took the endpoint out (or let it back), and why. */
export interface EjectedEvent<C = unknown> {
  readonly endpoint: Endpoint<C>
  readonly detector: DetectorName
  readonly reason: string
  /** Clock time (`clock.now()`) at which a timed ejection lifts. */
  readonly until?: number
}

/** Payload of `healthy` and `unhealthy`: the endpoint whose active health checks changed its state. */
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

/** Payload of `retry` and `hedge`: another attempt of a call is about to start. */
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

/** Payload of `panic`: a priority level entered or left panic (it balances over all its members). */
export interface PanicEvent {
  /** Whether the level entered (true) or left (false) panic. */
  readonly active: boolean
  /** Eligible members of the level. */
  readonly eligible: number
  /** Members of the level. */
  readonly total: number
  /** The level (0 is the primary). */
  readonly priority: number
}

/** Payload of `budgetExhausted`: a retry was refused because the retry budget was spent. */
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

/** Payload of `warning`: something non-fatal went wrong. */
export interface WarningEvent {
  /** A stable code, e.g. `KEEL_RESOURCE_CLOSE`. */
  readonly code: string
  readonly message: string
}

/** The balancer's events (docs/events.md). State changes before an event is emitted. */
export interface BalancerEvents<C = unknown> {
  /** An endpoint joined (from `endpoints`, `add`, `update` or discovery). */
  endpointAdded: (event: EndpointEvent<C>) => void
  /** An endpoint left and starts draining. */
  endpointRemoved: (event: EndpointEvent<C>) => void
  /** A detector (`breaker`, `outlier`, `health`, `overload`) took an endpoint out of rotation. */
  ejected: (event: EjectedEvent<C>) => void
  /** A detector's ejection was lifted. */
  restored: (event: EjectedEvent<C>) => void
  /** An endpoint's circuit breaker opened. */
  breakerOpen: (event: EndpointEvent<C>) => void
  /** An endpoint's circuit breaker lets one trial attempt through. */
  breakerHalfOpen: (event: EndpointEvent<C>) => void
  /** An endpoint's circuit breaker closed again. */
  breakerClose: (event: EndpointEvent<C>) => void
  /** Active health checks found an endpoint healthy (also for its first passing check). */
  healthy: (event: HealthEvent<C>) => void
  /** Active health checks found an endpoint unhealthy. */
  unhealthy: (event: HealthEvent<C>) => void
  /** An attempt ended, with its verdict and duration. */
  attempt: (event: AttemptEvent<C>) => void
  /** A failed attempt is retried on another endpoint. */
  retry: (event: RetryEvent<C>) => void
  /** A hedged copy of a slow attempt starts. */
  hedge: (event: RetryEvent<C>) => void
  /** A priority level entered or left panic. */
  panic: (event: PanicEvent) => void
  /** A retry was refused by the retry budget. */
  budgetExhausted: (event: BudgetEvent) => void
  /** Discovery failed or answered with nothing usable; the balancer keeps its last set. */
  discoveryError: (event: { readonly error: unknown }) => void
  /** Shared health (`keel/redis`) lost its channel or failed a command; calls are unaffected. */
  sharedHealthError: (event: SharedHealthErrorEvent) => void
  /** Non-fatal conditions (a Maglev table that had to grow, a resource that failed to close). */
  warning: (event: WarningEvent) => void
}

/** The name of a balancer event. */
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
