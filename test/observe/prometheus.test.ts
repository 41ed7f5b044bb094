import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { prometheusMetrics } from '../../src/addons/prometheus/index.ts'
import { Balancer, type BalancerOptions, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'
import { family, scrape } from '../helpers/exposition.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'
const C = 'http://10.0.0.3:80'

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
}

/** Round-robin over A, B, C; B refuses connections, the others answer after `ms` on the clock. */
function make(options: BalancerOptions = {}, ms = 30) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints: [A, B, C],
    clock,
    random: seededRandom(1),
    picker: 'round-robin',
    breaker: false,
    outlierDetection: false,
    retry: { retries: 2, minTimeout: 0, maxTimeout: 0 },
    ...options,
  })
  const registry = new Registry()
  const metrics = prometheusMetrics(balancer, { name: 'users', registry })
  cleanups.push(() => balancer.close())
  cleanups.push(() => metrics.close())
  const call = () =>
    balancer.call(
      (endpoint) =>
        endpoint.id === B
          ? Promise.reject(refused())
          : new Promise<string>((resolve) => clock.setTimeout(() => resolve(endpoint.id), ms)),
      { idempotent: true },
    )
  return { balancer, clock, registry, metrics, call }
}

describe('prometheusMetrics', () => {
  it('counts calls, attempts by endpoint and verdict, retries and durations exactly', async () => {
    const { clock, registry, call } = make()
    // Round-robin: A; B (refused) then C; A; B then C; A — six calls, eight attempts.
    for (let i = 0; i < 6; i++) {
      const pending = call()
      await flush()
      await clock.advance(30)
      await pending
    }
    const samples = await scrape(registry)
    expect(family(samples, 'keel_attempts_total')).toMatchObject({
      'keel_attempts_total{balancer="users",endpoint="http://10.0.0.1:80",verdict="success"}': 3,
      'keel_attempts_total{balancer="users",endpoint="http://10.0.0.2:80",verdict="not-sent"}': 3,
      'keel_attempts_total{balancer="users",endpoint="http://10.0.0.2:80",verdict="success"}': 0,
      'keel_attempts_total{balancer="users",endpoint="http://10.0.0.3:80",verdict="success"}': 3,
    })
    expect(samples.get('keel_retries_total{balancer="users"}')).toBe(3)
    expect(samples.get('keel_hedges_total{balancer="users"}')).toBe(0)
    expect(samples.get('keel_retry_budget_exhausted_total{balancer="users"}')).toBe(0)
    // Six successes of exactly 30 ms each: all in the 0.05 s bucket and above, none below.
    const duration = family(samples, 'keel_attempt_duration_seconds')
    expect(duration['keel_attempt_duration_seconds_bucket{balancer="users",le="0.025",verdict="success"}']).toBe(0)
    expect(duration['keel_attempt_duration_seconds_bucket{balancer="users",le="0.05",verdict="success"}']).toBe(6)
    expect(duration['keel_attempt_duration_seconds_bucket{balancer="users",le="+Inf",verdict="success"}']).toBe(6)
    expect(duration['keel_attempt_duration_seconds_count{balancer="users",verdict="success"}']).toBe(6)
    expect(duration['keel_attempt_duration_seconds_sum{balancer="users",verdict="success"}']).toBeCloseTo(0.18, 12)
    expect(duration['keel_attempt_duration_seconds_count{balancer="users",verdict="not-sent"}']).toBe(3)
    expect(samples.get('keel_endpoints{balancer="users",state="active"}')).toBe(3)
    expect(samples.get('keel_endpoints{balancer="users",state="ejected"}')).toBe(0)
    expect(samples.get('keel_panic_levels{balancer="users"}')).toBe(0)
    expect(samples.get('keel_endpoint_in_flight{balancer="users",endpoint="http://10.0.0.1:80"}')).toBe(0)
    expect(
      samples.get('keel_endpoint_latency_seconds{balancer="users",endpoint="http://10.0.0.1:80"}'),
    ).toBeGreaterThan(0)
  })

  it('counts ejections by endpoint and detector, and shows the endpoint as ejected', async () => {
    const { clock, registry, call } = make({
      outlierDetection: { consecutiveFailures: 2, interval: 10_000, baseEjectionTime: 30_000 },
    })
    for (let i = 0; i < 6; i++) {
      const pending = call()
      await flush()
      await clock.advance(30)
      await pending
    }
    const samples = await scrape(registry)
    expect(samples.get('keel_ejections_total{balancer="users",detector="outlier",endpoint="http://10.0.0.2:80"}')).toBe(
      1,
    )
    expect(samples.get('keel_endpoints{balancer="users",state="ejected"}')).toBe(1)
    expect(samples.get('keel_endpoints{balancer="users",state="active"}')).toBe(2)
  })

  it('without per-endpoint series, counts per balancer only', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: [A, C], clock, picker: 'round-robin' })
    const registry = new Registry()
    const metrics = prometheusMetrics(balancer, { name: 'orders', registry, perEndpoint: false })
    cleanups.push(
      () => balancer.close(),
      () => metrics.close(),
    )
    for (let i = 0; i < 4; i++) await balancer.call(() => 'ok')
    const samples = await scrape(registry)
    expect(samples.get('keel_attempts_total{balancer="orders",verdict="success"}')).toBe(4)
    expect(samples.get('keel_endpoint_in_flight{balancer="orders"}')).toBe(0)
    expect([...samples.keys()].some((k) => k.includes('endpoint="'))).toBe(false)
  })

  it('shares one registry between balancers and removes its metrics when the last one closes', async () => {
    const registry = new Registry()
    const one = new Balancer({ endpoints: [A] })
    const two = new Balancer({ endpoints: [C] })
    cleanups.push(
      () => one.close(),
      () => two.close(),
    )
    const m1 = prometheusMetrics(one, { name: 'one', registry })
    const m2 = prometheusMetrics(two, { name: 'two', registry })
    expect(() => prometheusMetrics(two, { name: 'one', registry })).toThrow(/`name`.*"one"/)
    await one.call(() => 1)
    await two.call(() => 2)
    await two.call(() => 2)
    let samples = await scrape(registry)
    expect(samples.get('keel_calls_total{balancer="one",outcome="success"}')).toBe(1)
    expect(samples.get('keel_calls_total{balancer="two",outcome="success"}')).toBe(2)
    m1.close()
    samples = await scrape(registry)
    expect(samples.has('keel_calls_total{balancer="one",outcome="success"}')).toBe(false)
    m2.close()
    expect(await registry.metrics()).toBe('\n')
  })

  it('validates its options with messages that name them', () => {
    const balancer = new Balancer({ endpoints: [A] })
    cleanups.push(() => balancer.close())
    const registry = new Registry()
    expect(() => prometheusMetrics(balancer, { name: '', registry })).toThrow(
      'Expected `name` to be a non-empty string, got ""',
    )
    expect(() => prometheusMetrics(balancer, { name: 'x', registry, buckets: [1, 0.5] })).toThrow(/`buckets`/)
    expect(() => prometheusMetrics(balancer, { name: 'x', registry, perEndpont: false } as never)).toThrow(
      /did you mean `perEndpoint`/,
    )
    expect(() => prometheusMetrics({} as never, { name: 'x' })).toThrow(/`balancer`/)
  })
})
