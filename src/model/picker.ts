import type { Random } from '../internal/random.ts'
import type { Endpoint } from './endpoint.ts'

/** The latency estimate of an endpoint, as pickers read it (`load/peak-ewma.ts`). */
export interface LatencyEstimate {
  /** PeakEWMA latency estimate in ms at `now`. */
  read(now: number): number
  /**
   * Answers that came back without doing the work (fast failures, caller errors), still counted
   * as busy at `now`: a picker adds them to the requests in flight.
   */
  busy(now: number): number
  /** Mean deviation of recent answers from the estimate, in ms: how noisy this endpoint's latency is. */
  readonly deviationMs: number
  /** The estimate is still a guess: the endpoint has not answered yet. */
  readonly guess: boolean
  /**
   * No answer has refreshed the estimate for its staleness horizon at `now` (at least 1 s, and
   * at least 200 round trips of `peerMs`, the latency of the endpoint it is compared with):
   * `p2c-ewma` then compares it as a guess, so the endpoint takes a request that measures it again.
   */
  stale(now: number, peerMs: number): boolean
}

/**
 * What a picker sees of an endpoint: the balancer's live state for it. Read-only for pickers;
 * the balancer updates it as attempts start and end.
 */
export interface PickerEndpoint {
  readonly endpoint: Endpoint<unknown>
  /** Effective weight: the static weight, reduced while slow start ramps the endpoint up. */
  readonly weight: number
  /** Attempts to this endpoint that have started and not ended. */
  readonly inFlight: number
  /**
   * Whether the endpoint may take traffic now (eligible, or its priority level is in panic).
   * Pickers built from `scope: 'members'` read it at lookup; others only ever see pickable ones.
   */
  readonly pickable: boolean
  /**
   * PeakEWMA latency estimate in ms at `now` (docs/pickers/p2c-ewma.md), scaled so that
   * latency × (inFlight + 1) also counts answers that came back without doing the work (fast
   * failures and caller errors) as requests in flight (see `load/peak-ewma.ts`).
   */
  latencyMs(now: number): number
  /** The latency estimate and the busy count that `latencyMs` combines, read separately. */
  readonly load: LatencyEstimate
}

/** Per-pick input. One object per balancer, reused: read it during `pick()`, never keep it. */
export interface PickContext {
  /** The clock, read once per call. */
  readonly now: number
  /** Whether the call has a `key`; when false, `hashHi`/`hashLo` are 0. */
  readonly hasKey: boolean
  /** High 32 bits of the key's 64-bit hash (unsigned). */
  readonly hashHi: number
  /** Low 32 bits of the key's 64-bit hash (unsigned). */
  readonly hashLo: number
  /** `maxInFlightPerEndpoint`, or `Infinity`: an endpoint at it must not be returned. */
  readonly maxInFlight: number
  /**
   * Attempts in flight over the whole balancer (every endpoint, draining ones included), before
   * the attempt this pick is for starts. Bounded-load hashing (`balanceFactor`) reads it.
   */
  readonly totalInFlight: number
  /**
   * True for endpoints this pick must avoid: already tried by this call, or just refused by keel.
   * Usually none, so check it after cheaper tests.
   */
  skipped(endpoint: PickerEndpoint): boolean
}

/**
 * A snapshot of a selection algorithm over a fixed list of endpoints. `pick` is synchronous,
 * allocation-free and never throws; it returns `undefined` when no endpoint qualifies.
 */
export interface Picker {
  /** Chooses an endpoint for one attempt, or `undefined` when none qualifies. */
  pick(context: PickContext): PickerEndpoint | undefined
}

/** What a factory gets besides the endpoints when it builds a picker. */
export interface PickerBuildContext {
  /** The balancer's injected random source. */
  readonly random: Random
  /** The picker this one replaces (same factory), so state such as a cursor can carry over. */
  readonly previous: Picker | undefined
  /** Reports a non-fatal condition as the balancer's `warning` event. */
  warn(code: string, message: string): void
}

/** Builds pickers. A plain object is enough: `{ name, build }`. */
export interface PickerFactory {
  readonly name: string
  /**
   * `eligible` (default): built from the pickable endpoints and rebuilt whenever that set changes.
   * `members`: built from every member and static weights only (hash pickers), rebuilt when
   * membership or weights change, at most once per `rebuildIntervalMs`; reads `pickable` at lookup.
   */
  readonly scope?: 'eligible' | 'members'
  /** For `members` scope: the least time between two rebuilds. @default 100 */
  readonly rebuildIntervalMs?: number
  /** Uses the call's key: calls without one go to `fallbackPicker`. @default false */
  readonly keyed?: boolean
  /** Whether slow start applies (it does not to hash pickers, as in Envoy). @default true */
  readonly slowStart?: boolean
  /** Makes a picker over the eligible endpoints; called again whenever they change. */
  build(endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker
}
