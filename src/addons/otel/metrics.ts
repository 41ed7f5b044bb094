import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api'
import type { Balancer } from '../../balancer.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { EndpointStateName } from '../../model/endpoint-state-name.ts'
import { VERDICTS } from '../../model/verdict.ts'
import { feedMetrics } from '../metrics/feed.ts'
import { DETECTORS, MetricsRecorder, OUTCOMES } from '../metrics/recorder.ts'

const STATES: readonly EndpointStateName[] = ['active', 'half-open', 'open', 'ejected', 'unhealthy', 'draining']

/** `server.address` and `server.port` of an endpoint, as the HTTP and RPC conventions name them. */
export function serverAttributes(endpoint: Endpoint<unknown>): Attributes {
  return { 'server.address': endpoint.host, 'server.port': endpoint.port }
}

/**
 * keel's metrics as OpenTelemetry instruments. Counters are asynchronous (read from the recorder
 * at each collection, so recording is a few array increments); the duration histogram is the one
 * synchronous instrument, recorded per attempt with an attribute set made once per verdict.
 * Returns the function that stops it.
 */
export function otelMetrics(
  balancer: Balancer<unknown>,
  meter: Meter,
  name: string,
  perEndpoint: boolean,
  buckets: readonly number[],
): () => void {
  const base = { 'keel.balancer': name }
  const duration = meter.createHistogram('keel.attempt.duration', {
    description: 'Duration of attempts, by verdict.',
    unit: 's',
    advice: { explicitBucketBoundaries: [...buckets] },
  })
  const byVerdict = VERDICTS.map((verdict) => Object.freeze({ ...base, 'keel.attempt.verdict': verdict }))
  const recorder = new MetricsRecorder(buckets, perEndpoint, (v, seconds) => duration.record(seconds, byVerdict[v]))
  const stop = feedMetrics(balancer, recorder)

  const calls = meter.createObservableCounter('keel.calls', {
    description: 'Calls settled, by outcome.',
    unit: '{call}',
  })
  const attempts = meter.createObservableCounter('keel.attempts', {
    description: 'Attempts ended, by endpoint and verdict.',
    unit: '{attempt}',
  })
  const retries = meter.createObservableCounter('keel.retries', { description: 'Retries decided.', unit: '{retry}' })
  const hedges = meter.createObservableCounter('keel.hedges', {
    description: 'Hedged attempts started.',
    unit: '{hedge}',
  })
  const exhaustions = meter.createObservableCounter('keel.retry_budget.exhaustions', {
    description: 'Retries and hedges the retry budget refused.',
    unit: '{exhaustion}',
  })
  const ejections = meter.createObservableCounter('keel.ejections', {
    description: 'Endpoints taken out of rotation, by endpoint and detector.',
    unit: '{ejection}',
  })
  const endpoints = meter.createObservableUpDownCounter('keel.endpoint.count', {
    description: 'Endpoints by state.',
    unit: '{endpoint}',
  })
  const active = meter.createObservableUpDownCounter('keel.attempt.active', {
    description: 'Attempts in flight, by endpoint.',
    unit: '{attempt}',
  })
  const latency = meter.createObservableGauge('keel.endpoint.latency', {
    description: "The picker's latency estimate (PeakEWMA), by endpoint.",
    unit: 's',
  })
  const panic = meter.createObservableUpDownCounter('keel.panic.level.count', {
    description: 'Priority levels in panic.',
    unit: '{level}',
  })
  const observables: Observable[] = [
    calls,
    attempts,
    retries,
    hedges,
    exhaustions,
    ejections,
    endpoints,
    active,
    latency,
    panic,
  ]

  const observe = (result: BatchObservableResult) => {
    for (let i = 0; i < OUTCOMES.length; i++)
      result.observe(calls, recorder.calls[i]!, { ...base, 'keel.call.outcome': OUTCOMES[i]! })
    if (recorder.endpoints === undefined) {
      for (let v = 0; v < VERDICTS.length; v++) result.observe(attempts, recorder.attempts[v]!, byVerdict[v])
      for (let d = 0; d < DETECTORS.length; d++)
        result.observe(ejections, recorder.ejections[d]!, { ...base, 'keel.ejection.detector': DETECTORS[d]! })
    } else {
      for (const counters of recorder.endpoints.values()) {
        const server = serverAttributes(counters.endpoint)
        for (let v = 0; v < VERDICTS.length; v++) {
          const value = counters.attempts[v]!
          if (value > 0) result.observe(attempts, value, { ...byVerdict[v], ...server })
        }
        for (let d = 0; d < DETECTORS.length; d++) {
          const value = counters.ejections[d]!
          if (value > 0)
            result.observe(ejections, value, { ...base, ...server, 'keel.ejection.detector': DETECTORS[d]! })
        }
      }
    }
    result.observe(retries, recorder.retries, base)
    result.observe(hedges, recorder.hedges, base)
    result.observe(exhaustions, recorder.budgetExhausted, base)
    const snapshot = balancer.snapshot()
    const counts = new Map<EndpointStateName, number>(STATES.map((s) => [s, 0]))
    let inFlight = 0
    for (const e of snapshot.endpoints) {
      counts.set(e.state, counts.get(e.state)! + 1)
      inFlight += e.inFlight
    }
    for (const [state, count] of counts) result.observe(endpoints, count, { ...base, 'keel.endpoint.state': state })
    result.observe(panic, snapshot.panic.length, base)
    if (recorder.endpoints === undefined) {
      result.observe(active, inFlight, base)
      return
    }
    const byId = new Map(balancer.endpoints.map((e) => [e.id, e]))
    for (const e of snapshot.endpoints) {
      // Members only: a draining endpoint is not in `balancer.endpoints` (its in-flight count is in the total).
      const endpoint = byId.get(e.id)
      if (endpoint === undefined) continue
      const attributes = { ...base, ...serverAttributes(endpoint) }
      result.observe(active, e.inFlight, attributes)
      result.observe(latency, e.ewmaMs / 1000, attributes)
    }
  }
  meter.addBatchObservableCallback(observe, observables)
  return () => {
    stop()
    meter.removeBatchObservableCallback(observe, observables)
  }
}
