import { afterEach, describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer, BalancerClosedError, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { A, B, C, D, harness } from './harness.ts'

let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  close = undefined
})

function setup(...args: Parameters<typeof harness>) {
  const h = harness(...args)
  close = () => h.balancer.close()
  return h
}

describe('health check scheduling', () => {
  it('keeps every check within ±jitter of the interval, start to start', async () => {
    const endpoints = Array.from({ length: 8 }, (_, i) => `http://10.0.1.${i + 1}:80`)
    const h = setup({ interval: 1_000, jitter: 10 }, endpoints, 42)
    await h.clock.advance(200_000)
    const gaps: number[] = []
    for (const id of endpoints) {
      const runs = h.runsOf(id)
      expect(runs.length).toBeGreaterThanOrEqual(180)
      // First checks are spread over [0, interval × jitter%).
      expect(runs[0]!.at - 1_000).toBeGreaterThanOrEqual(0)
      expect(runs[0]!.at - 1_000).toBeLessThan(100)
      for (let i = 1; i < runs.length; i++) gaps.push(runs[i]!.at - runs[i - 1]!.at)
    }
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(900)
      expect(gap).toBeLessThanOrEqual(1_100)
    }
    // The spread is really used: both ends of the band are reached, and the mean is the interval.
    expect(Math.min(...gaps)).toBeLessThan(905)
    expect(Math.max(...gaps)).toBeGreaterThan(1_095)
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length
    expect(Math.abs(mean - 1_000)).toBeLessThan(10)
    expect(new Set(endpoints.map((id) => h.runsOf(id)[0]!.at)).size).toBe(endpoints.length)
  })

  it('runs all first checks at once and checks exactly every interval with jitter 0', async () => {
    const h = setup({ interval: 500, jitter: 0 })
    await h.clock.advance(2_000)
    for (const id of [A, B, C]) expect(h.runsOf(id).map((r) => r.at)).toEqual([1_000, 1_500, 2_000, 2_500, 3_000])
  })

  it('keeps start-up endpoints eligible until their first check completes, which alone decides', async () => {
    const h = setup({ interval: 1_000, unhealthyThreshold: 3 })
    h.answers.set(A, 'hang')
    h.answers.set(B, 'fail')
    expect(new Set(await h.traffic(6))).toEqual(new Set([A, B, C]))
    // First checks are spread over [0, 100) ms.
    await h.clock.advance(100)
    expect(h.eligible(B)).toBe(false)
    expect(h.eventsOf(B, 'ejected')[0]?.reason).toBe('first custom check failed: check returned false')
    // A's first check is still running: A stays eligible meanwhile.
    expect(h.healthOf(A).running).toBeDefined()
    expect(new Set(await h.traffic(6))).toEqual(new Set([A, C]))
    expect(h.eventsOf(C).map((e) => e.event)).toEqual(['healthy'])
  })

  it('gives an endpoint added after start no traffic before its first passing check', async () => {
    const h = setup({ interval: 1_000, healthyThreshold: 2 })
    await h.clock.advance(1_000)
    let released = 0
    h.answers.set(D, 'fail')
    h.balancer.add(D)
    expect(h.eligible(D)).toBe(false)
    expect(h.eventsOf(D)).toEqual([
      {
        event: 'ejected',
        id: D,
        at: h.clock.now(),
        detector: 'health',
        reason: 'awaiting first check',
        eligible: false,
      },
    ])
    expect(h.balancer.snapshot().endpoints.find((e) => e.id === D)?.state).toBe('unhealthy')
    h.balancer.on('restored', () => {
      released++
    })
    // Its first check runs at once, fails: it stays out and now needs healthyThreshold passes.
    await h.clock.advance(0)
    expect(h.runsOf(D).map((r) => r.at)).toEqual([h.clock.now()])
    expect(h.eventsOf(D, 'unhealthy')).toHaveLength(1)
    expect(await h.traffic(20)).not.toContain(D)
    h.answers.set(D, 'pass')
    await h.nextCheck(D)
    expect(h.eligible(D)).toBe(false)
    expect(await h.traffic(20)).not.toContain(D)
    expect(released).toBe(0)
    await h.nextCheck(D)
    expect(h.eligible(D)).toBe(true)
    expect(await h.traffic(20)).toContain(D)
  })

  it('lets an added endpoint in on its first check when that one passes', async () => {
    const h = setup({ interval: 1_000, healthyThreshold: 3 })
    await h.clock.advance(1_000)
    h.answers.set(D, 10)
    h.balancer.add(D)
    await h.clock.advance(9)
    expect(await h.traffic(12)).not.toContain(D)
    await h.clock.advance(1)
    expect(h.eventsOf(D).map((e) => [e.event, e.reason, e.eligible])).toEqual([
      ['ejected', 'awaiting first check', false],
      ['restored', 'first custom check passed', true],
      ['healthy', undefined, true],
    ])
    expect(await h.traffic(12)).toContain(D)
  })

  it('restores an outlier-ejected endpoint on a passing check', async () => {
    const h = setup({ interval: 1_000 })
    await h.clock.advance(1_000)
    const state = h.stateOf(A)
    expect(h.core.ejection.eject(state, 'outlier', 'test', h.clock.now() + 30_000)).toBe(true)
    expect(h.eligible(A)).toBe(false)
    const run = await h.nextCheck(A)
    expect(h.eligible(A)).toBe(true)
    expect(h.eventsOf(A, 'restored')).toEqual([
      { event: 'restored', id: A, at: run.at, detector: 'outlier', reason: 'health check passed', eligible: true },
    ])
    // The outlier's own expiry timer went with the restore.
    expect(state.ejectionTimers?.size ?? 0).toBe(0)
  })

  it('leaves an outlier ejection alone while checks fail', async () => {
    const h = setup({ interval: 1_000, unhealthyThreshold: 5 })
    await h.clock.advance(1_000)
    h.answers.set(A, 'fail')
    h.core.ejection.eject(h.stateOf(A), 'outlier', 'test', h.clock.now() + 30_000)
    await h.nextCheck(A)
    expect(h.eligible(A)).toBe(false)
    expect(h.eventsOf(A, 'restored')).toHaveLength(0)
  })

  it('stops checking an endpoint once it has drained', async () => {
    const h = setup({ interval: 1_000, jitter: 0 })
    await h.clock.advance(500)
    h.balancer.remove(B)
    await h.clock.advance(5_000)
    expect(h.runsOf(B)).toHaveLength(1)
    expect(h.runsOf(A)).toHaveLength(6)
  })

  it('aborts running checks and leaves no timer after close()', async () => {
    const h = setup({ interval: 1_000 })
    h.answers.set(A, 'hang')
    await h.clock.advance(1_000)
    const running = h.runsOf(A)[0]!
    expect(h.clock.pending).toBeGreaterThan(0)
    await h.balancer.close()
    close = undefined
    expect(running.signal.reason).toBeInstanceOf(BalancerClosedError)
    expect(h.clock.pending).toBe(0)
    expect(h.core.timers.size).toBe(0)
    const count = h.runs.length
    await h.clock.advance(10_000)
    expect(h.runs.length).toBe(count)
  })
})

describe('check implementations by type', () => {
  it('runs no grpc check until the adapter installs one, then starts them', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: ['10.0.0.1:50051', '10.0.0.2:50051'],
      clock,
      random: seededRandom(1),
      healthCheck: { type: 'grpc', interval: 1_000 },
    })
    close = () => balancer.close()
    const core = coreOf(balancer)
    await clock.advance(10_000)
    balancer.add('10.0.0.3:50051')
    expect([...core.set.members.values()].every((s) => s.eligible)).toBe(true)
    const seen: string[] = []
    expect(
      core.installHealthCheck('grpc', async (endpoint) => {
        seen.push(endpoint.id)
        return endpoint.host !== '10.0.0.2'
      }),
    ).toBe(true)
    await clock.advance(100)
    expect(seen.sort()).toEqual(['tcp://10.0.0.1:50051', 'tcp://10.0.0.2:50051', 'tcp://10.0.0.3:50051'])
    expect([...core.set.members.values()].filter((s) => !s.eligible).map((s) => s.id)).toEqual(['tcp://10.0.0.2:50051'])
  })

  it('reports that nothing was installed when health checks are off', () => {
    const balancer = new Balancer({ endpoints: ['10.0.0.1:50051'] })
    close = () => balancer.close()
    expect(coreOf(balancer).installHealthCheck('grpc', async () => true)).toBe(false)
  })
})
