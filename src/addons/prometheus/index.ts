// keel/prometheus: a balancer's metrics in a prom-client registry (prom-client is an optional peer).
import { Counter, register as defaultRegistry, Gauge, type Metric, type Registry } from 'prom-client'
import { Balancer } from '../../balancer.ts'
import { isPlainObject, rangeError, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import type { EndpointStateName } from '../../model/endpoint-state-name.ts'
import { VERDICTS } from '../../model/verdict.ts'
import { feedMetrics } from '../metrics/feed.ts'
import { checkBuckets, DEFAULT_BUCKETS, DETECTORS, MetricsRecorder, OUTCOMES } from '../metrics/recorder.ts'

export interface PrometheusMetricsOptions {
  /** The value of the `balancer` label on every series: tells this balancer from the process's others. */
  readonly name: string
  /**
   * The registry the metrics are registered in. Balancers exporting to the same registry share
   * its metrics, told apart by `balancer`.
   * @default prom-client's default `register`
   */
  readonly registry?: Registry
  /**
   * Series per endpoint (label `endpoint`, the endpoint's id). Turn off for large fleets: attempts
   * and ejections are then counted per balancer only, in-flight attempts are summed, and
   * `keel_endpoint_latency_seconds` is not exported (optional labels, as gRPC's gRFC A78 does).
   * @default true
   */
  readonly perEndpoint?: boolean
  /**
   * Upper bounds, in seconds, of `keel_attempt_duration_seconds`.
   * @default [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
   */
  readonly buckets?: readonly number[]
}

/** Stops exporting: the balancer's series leave the registry (its metrics too, once no balancer is left). */
export interface MetricsHandle {
  close(): void
}

interface Source {
  readonly name: string
  readonly balancer: Balancer<unknown>
  readonly recorder: MetricsRecorder
}

const STATES: readonly EndpointStateName[] = ['active', 'half-open', 'open', 'ejected', 'unhealthy', 'draining']
const OPTIONS = ['name', 'registry', 'perEndpoint', 'buckets']
const families = new WeakMap<Registry, Family>()

/**
 * Exports `balancer`'s metrics to a prom-client registry: calls by outcome, attempts by endpoint
 * and verdict, attempt durations, retries, hedges, retry budget refusals, ejections by endpoint
 * and detector, endpoints by state, in-flight attempts and the picker's latency estimate per
 * endpoint. Counting costs a few array increments per attempt; series are built on each scrape.
 */
export function prometheusMetrics(balancer: Balancer<never>, options: PrometheusMetricsOptions): MetricsHandle {
  if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, OPTIONS)
  const { name, registry = defaultRegistry, perEndpoint = true, buckets = DEFAULT_BUCKETS } = options
  if (typeof name !== 'string' || name === '') throw typeError('name', 'a non-empty string', name)
  if (typeof perEndpoint !== 'boolean') throw typeError('perEndpoint', 'a boolean', perEndpoint)
  if (!checkBuckets(buckets)) throw rangeError('buckets', 'increasing positive numbers of seconds', buckets)
  if (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function')
    throw typeError('registry', 'a prom-client Registry', registry)
  let family = families.get(registry)
  if (family === undefined) {
    family = new Family(registry)
    families.set(registry, family)
  }
  if (family.sources.has(name)) throw rangeError('name', 'a name no other balancer exports to this registry', name)
  const recorder = new MetricsRecorder(buckets, perEndpoint)
  const source: Source = { name, balancer: balancer as Balancer<unknown>, recorder }
  const stop = feedMetrics(source.balancer, recorder)
  family.add(source)
  let closed = false
  return {
    close() {
      if (closed) return
      closed = true
      stop()
      family.remove(source)
      if (family.sources.size === 0) families.delete(registry)
    },
  }
}

/** keel's metrics in one registry, shared by every balancer exporting to it. */
class Family {
  readonly registry: Registry
  readonly sources = new Map<string, Source>()
  readonly #metrics: Metric[]
  readonly #names: string[] = []

  constructor(registry: Registry) {
    this.registry = registry
    const sources = this.sources
    const each = (fn: (source: Source) => void) => {
      for (const source of sources.values()) fn(source)
    }
    const counter = (name: string, help: string, labelNames: string[], fill: (metric: Counter) => void) => {
      this.#names.push(name)
      const metric: Counter = new Counter({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          metric.reset()
          fill(metric)
        },
      })
      return metric
    }
    const gauge = (name: string, help: string, labelNames: string[], fill: (metric: Gauge) => void) => {
      this.#names.push(name)
      const metric: Gauge = new Gauge({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          metric.reset()
          fill(metric)
        },
      })
      return metric
    }
    this.#metrics = [
      counter('keel_calls_total', 'Calls settled, by outcome.', ['balancer', 'outcome'], (m) =>
        each(({ name, recorder }) => {
          for (let i = 0; i < OUTCOMES.length; i++) m.inc({ balancer: name, outcome: OUTCOMES[i]! }, recorder.calls[i]!)
        }),
      ),
      counter(
        'keel_attempts_total',
        'Attempts ended, by endpoint and verdict.',
        ['balancer', 'endpoint', 'verdict'],
        (m) =>
          each(({ name, recorder }) => {
            if (recorder.endpoints === undefined) {
              for (let v = 0; v < VERDICTS.length; v++)
                m.inc({ balancer: name, verdict: VERDICTS[v]! }, recorder.attempts[v]!)
              return
            }
            for (const counters of recorder.endpoints.values()) {
              const endpoint = counters.endpoint.id
              for (let v = 0; v < VERDICTS.length; v++)
                m.inc({ balancer: name, endpoint, verdict: VERDICTS[v]! }, counters.attempts[v]!)
            }
          }),
      ),
      this.#histogram(sources),
      counter('keel_retries_total', 'Retries decided.', ['balancer'], (m) =>
        each(({ name, recorder }) => m.inc({ balancer: name }, recorder.retries)),
      ),
      counter('keel_hedges_total', 'Hedged attempts started.', ['balancer'], (m) =>
        each(({ name, recorder }) => m.inc({ balancer: name }, recorder.hedges)),
      ),
      counter('keel_retry_budget_exhausted_total', 'Retries and hedges the retry budget refused.', ['balancer'], (m) =>
        each(({ name, recorder }) => m.inc({ balancer: name }, recorder.budgetExhausted)),
      ),
      counter(
        'keel_ejections_total',
        'Endpoints taken out of rotation, by endpoint and detector.',
        ['balancer', 'endpoint', 'detector'],
        (m) =>
          each(({ name, recorder }) => {
            if (recorder.endpoints === undefined) {
              for (let d = 0; d < DETECTORS.length; d++)
                m.inc({ balancer: name, detector: DETECTORS[d]! }, recorder.ejections[d]!)
              return
            }
            for (const counters of recorder.endpoints.values()) {
              for (let d = 0; d < DETECTORS.length; d++) {
                const value = counters.ejections[d]!
                if (value > 0) m.inc({ balancer: name, endpoint: counters.endpoint.id, detector: DETECTORS[d]! }, value)
              }
            }
          }),
      ),
      gauge(
        'keel_endpoints',
        'Endpoints by state (the first of draining, unhealthy, ejected, open, half-open, active that applies).',
        ['balancer', 'state'],
        (m) =>
          each(({ name, balancer }) => {
            const counts = new Map<EndpointStateName, number>(STATES.map((s) => [s, 0]))
            for (const e of balancer.snapshot().endpoints) counts.set(e.state, counts.get(e.state)! + 1)
            for (const [state, count] of counts) m.set({ balancer: name, state }, count)
          }),
      ),
      gauge('keel_endpoint_in_flight', 'Attempts in flight, by endpoint.', ['balancer', 'endpoint'], (m) =>
        each(({ name, balancer, recorder }) => {
          const endpoints = balancer.snapshot().endpoints
          if (recorder.endpoints === undefined) {
            m.set(
              { balancer: name },
              endpoints.reduce((sum, e) => sum + e.inFlight, 0),
            )
            return
          }
          for (const e of endpoints) m.set({ balancer: name, endpoint: e.id }, e.inFlight)
        }),
      ),
      gauge(
        'keel_endpoint_latency_seconds',
        "The picker's latency estimate (PeakEWMA), by endpoint.",
        ['balancer', 'endpoint'],
        (m) =>
          each(({ name, balancer, recorder }) => {
            if (recorder.endpoints === undefined) return
            for (const e of balancer.snapshot().endpoints) m.set({ balancer: name, endpoint: e.id }, e.ewmaMs / 1000)
          }),
      ),
      gauge('keel_panic_levels', 'Priority levels in panic (balancing over all their members).', ['balancer'], (m) =>
        each(({ name, balancer }) => m.set({ balancer: name }, balancer.snapshot().panic.length)),
      ),
    ]
  }

  #histogram(sources: Map<string, Source>): Metric {
    const histogram = new DurationHistogram(sources)
    this.#names.push(histogram.name)
    return histogram as unknown as Metric
  }

  add(source: Source): void {
    if (this.sources.size === 0) for (const metric of this.#metrics) this.registry.registerMetric(metric)
    this.sources.set(source.name, source)
  }

  remove(source: Source): void {
    this.sources.delete(source.name)
    if (this.sources.size === 0) for (const name of this.#names) this.registry.removeSingleMetric(name)
  }
}

interface HistogramValue {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName: string
}

/**
 * `keel_attempt_duration_seconds` read from the recorders' bucket arrays: prom-client's own
 * Histogram hashes its labels on every `observe`, which the call path cannot afford.
 */
class DurationHistogram {
  readonly name = 'keel_attempt_duration_seconds'
  readonly help = 'Attempt durations in seconds, by verdict.'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly labelNames = ['balancer', 'verdict']
  readonly #sources: Map<string, Source>

  constructor(sources: Map<string, Source>) {
    this.#sources = sources
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: HistogramValue[] } {
    const values: HistogramValue[] = []
    const bucket = `${this.name}_bucket`
    for (const { name, recorder } of this.#sources.values()) {
      for (let v = 0; v < VERDICTS.length; v++) {
        const count = recorder.counts[v]!
        if (count === 0) continue
        const verdict = VERDICTS[v]!
        const buckets = recorder.buckets[v]!
        let cumulative = 0
        for (let b = 0; b < recorder.bounds.length; b++) {
          cumulative += buckets[b]!
          values.push({
            labels: { balancer: name, verdict, le: recorder.bounds[b]! },
            value: cumulative,
            metricName: bucket,
          })
        }
        values.push({ labels: { balancer: name, verdict, le: '+Inf' }, value: count, metricName: bucket })
        values.push({ labels: { balancer: name, verdict }, value: recorder.sums[v]!, metricName: `${this.name}_sum` })
        values.push({ labels: { balancer: name, verdict }, value: count, metricName: `${this.name}_count` })
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {}
}
