import type { CallOutcome } from '../../model/call-outcome.ts'
import type { DetectorName } from '../../model/detector.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import { VERDICTS, type Verdict } from '../../model/verdict.ts'

export type { CallOutcome }

export const OUTCOMES: readonly CallOutcome[] = Object.freeze([...VERDICTS, 'deadline', 'no-endpoint'])
export const DETECTORS: readonly DetectorName[] = Object.freeze(['breaker', 'outlier', 'health', 'overload', 'shared'])

const VERDICT_INDEX = Object.freeze(Object.fromEntries(VERDICTS.map((v, i) => [v, i])) as Record<Verdict, number>)
const OUTCOME_INDEX = Object.freeze(Object.fromEntries(OUTCOMES.map((v, i) => [v, i])) as Record<CallOutcome, number>)
const DETECTOR_INDEX = Object.freeze(
  Object.fromEntries(DETECTORS.map((v, i) => [v, i])) as Record<DetectorName, number>,
)

/**
 * Attempt duration buckets in seconds: OpenTelemetry's advice for `http.client.request.duration`,
 * so keel's histogram lines up with an HTTP client's own.
 */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
])

/** Counts kept for one endpoint while it belongs to the balancer. */
export class EndpointCounters {
  readonly endpoint: Endpoint<unknown>
  /** By verdict, in `VERDICTS` order. */
  readonly attempts = new Float64Array(VERDICTS.length)
  /** By detector, in `DETECTORS` order. */
  readonly ejections = new Float64Array(DETECTORS.length)

  constructor(endpoint: Endpoint<unknown>) {
    this.endpoint = endpoint
  }
}

/**
 * Plain counters that the metrics exporters read when they are collected. Recording is a few
 * array increments — no label hashing, no allocation — so the call path pays next to nothing;
 * the exporters turn the arrays into labelled series on each scrape or collection.
 */
export class MetricsRecorder {
  /** By outcome, in `OUTCOMES` order. */
  readonly calls = new Float64Array(OUTCOMES.length)
  /** By verdict, every endpoint included (also those that left). */
  readonly attempts = new Float64Array(VERDICTS.length)
  /** By detector, every endpoint included. */
  readonly ejections = new Float64Array(DETECTORS.length)
  retries = 0
  hedges = 0
  budgetExhausted = 0
  /** Upper bounds in seconds. */
  readonly bounds: readonly number[]
  /** The same bounds in ms, compared with durations as keel measures them. */
  readonly #boundsMs: Float64Array
  /** Per verdict: observations per bucket, not cumulative; the last slot is +Inf. */
  readonly buckets: Float64Array[]
  /** Per verdict: the sum of durations in seconds. */
  readonly sums = new Float64Array(VERDICTS.length)
  /** Per verdict: observations. */
  readonly counts = new Float64Array(VERDICTS.length)
  /** Per-endpoint counts, when the exporter keeps per-endpoint series. */
  readonly endpoints: Map<Endpoint<unknown>, EndpointCounters> | undefined
  /** Takes each duration instead of the buckets (an exporter with its own histogram). */
  readonly #durations: ((verdict: number, seconds: number) => void) | undefined

  /**
   * @param durations when given, receives every duration (verdict index, seconds) and the
   *   recorder keeps no buckets
   */
  constructor(
    bounds: readonly number[] = DEFAULT_BUCKETS,
    perEndpoint = true,
    durations?: (verdict: number, seconds: number) => void,
  ) {
    this.bounds = bounds
    this.#boundsMs = Float64Array.from(bounds, (s) => s * 1000)
    this.buckets = VERDICTS.map(() => new Float64Array(bounds.length + 1))
    this.endpoints = perEndpoint ? new Map() : undefined
    this.#durations = durations
  }

  attempt(endpoint: Endpoint<unknown>, verdict: Verdict, durationMs: number): void {
    const v = VERDICT_INDEX[verdict]
    this.attempts[v]!++
    if (this.endpoints !== undefined) this.#endpoint(endpoint).attempts[v]!++
    if (this.#durations !== undefined) {
      this.#durations(v, durationMs / 1000)
      return
    }
    const bounds = this.#boundsMs
    let b = 0
    while (b < bounds.length && durationMs > bounds[b]!) b++
    this.buckets[v]![b]!++
    this.sums[v]! += durationMs / 1000
    this.counts[v]!++
  }

  call(outcome: CallOutcome): void {
    this.calls[OUTCOME_INDEX[outcome]]!++
  }

  ejected(endpoint: Endpoint<unknown>, detector: DetectorName): void {
    const d = DETECTOR_INDEX[detector]
    this.ejections[d]!++
    if (this.endpoints !== undefined) this.#endpoint(endpoint).ejections[d]!++
  }

  /** The endpoint left the balancer (its drain finished): its series go. */
  forget(endpoint: Endpoint<unknown>): void {
    this.endpoints?.delete(endpoint)
  }

  #endpoint(endpoint: Endpoint<unknown>): EndpointCounters {
    const endpoints = this.endpoints!
    let counters = endpoints.get(endpoint)
    if (counters === undefined) {
      counters = new EndpointCounters(endpoint)
      endpoints.set(endpoint, counters)
    }
    return counters
  }
}

/** Validates histogram bounds: finite, positive, strictly increasing seconds. */
export function checkBuckets(value: unknown): value is readonly number[] {
  if (!Array.isArray(value) || value.length === 0) return false
  for (let i = 0; i < value.length; i++) {
    const v = value[i]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return false
    if (i > 0 && v <= value[i - 1]) return false
  }
  return true
}
