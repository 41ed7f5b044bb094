import { afterEach, describe, expect, it } from 'vitest'
import { instrument } from '../../src/addons/otel/index.ts'
import { Balancer, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'
import { otelSdk, pointValue } from '../helpers/otel.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
}

describe('instrument: OpenTelemetry metrics', () => {
  it('reports exact counts under OpenTelemetry names', async () => {
    const sdk = otelSdk()
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: [A, B],
      clock,
      random: seededRandom(1),
      picker: 'round-robin',
      breaker: false,
      outlierDetection: false,
      retry: { retries: 1, minTimeout: 0, maxTimeout: 0 },
    })
    const handle = instrument(balancer, {
      name: 'users',
      meterProvider: sdk.meterProvider,
      tracerProvider: sdk.tracerProvider,
    })
    cleanups.push(
      () => sdk.shutdown(),
      () => balancer.close(),
      () => handle.close(),
    )
    // Round-robin from seed 1 starts at B and its retries take A's turn: every call goes B (refused),
    // then A — four calls, eight attempts.
    for (let i = 0; i < 4; i++) {
      const pending = balancer.call((endpoint) =>
        endpoint.id === B
          ? Promise.reject(refused())
          : new Promise<string>((resolve) => clock.setTimeout(() => resolve(endpoint.id), 20)),
      )
      await flush()
      await clock.advance(20)
      await pending
    }
    const points = await sdk.collect()
    const a = { 'keel.balancer': 'users', 'server.address': '10.0.0.1', 'server.port': 80 }
    const b = { 'keel.balancer': 'users', 'server.address': '10.0.0.2', 'server.port': 80 }
    expect(pointValue(points.get('keel.attempts'), { ...a, 'keel.attempt.verdict': 'success' })).toBe(4)
    expect(pointValue(points.get('keel.attempts'), { ...b, 'keel.attempt.verdict': 'not-sent' })).toBe(4)
    expect(pointValue(points.get('keel.retries'), { 'keel.balancer': 'users' })).toBe(4)
    expect(pointValue(points.get('keel.endpoint.count'), { 'keel.endpoint.state': 'active' })).toBe(2)
    expect(pointValue(points.get('keel.attempt.active'), a)).toBe(0)
    expect(pointValue(points.get('keel.endpoint.latency'), a)).toBeGreaterThan(0)
    const histogram = pointValue(points.get('keel.attempt.duration'), { 'keel.attempt.verdict': 'success' }) as {
      count: number
      sum: number
      buckets: { boundaries: number[]; counts: number[] }
    }
    expect(histogram.count).toBe(4)
    expect(histogram.sum).toBeCloseTo(0.08, 12)
    // 20 ms lands in the (0.01, 0.025] bucket: boundaries follow the `buckets` default.
    expect(histogram.buckets.boundaries.slice(0, 3)).toEqual([0.005, 0.01, 0.025])
    expect(histogram.buckets.counts.slice(0, 4)).toEqual([0, 0, 4, 0])
  })
})
