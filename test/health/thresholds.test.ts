import { afterEach, describe, expect, it } from 'vitest'
import { HealthCheckTimeoutError } from '../../src/ejection/health/health-check.ts'
import { A, B, C, harness } from './harness.ts'

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

describe('health thresholds', () => {
  for (const unhealthyThreshold of [1, 3, 5]) {
    it(`turns a healthy endpoint unhealthy on exactly its unhealthyThreshold-th consecutive failed check (${unhealthyThreshold})`, async () => {
      const h = setup({ interval: 1_000, unhealthyThreshold })
      await h.nextCheck(A)
      expect(h.healthOf(A).status).toBe('healthy')
      h.answers.set(A, 'fail')
      for (let i = 1; i < unhealthyThreshold; i++) {
        await h.nextCheck(A)
        expect(h.eligible(A)).toBe(true)
        expect(h.eventsOf(A, 'unhealthy')).toHaveLength(0)
      }
      const failing = await h.nextCheck(A)
      expect(h.eligible(A)).toBe(false)
      expect(h.eventsOf(A, 'unhealthy')).toEqual([{ event: 'unhealthy', id: A, at: failing.at, eligible: false }])
      expect(h.eventsOf(A, 'ejected')).toEqual([
        {
          event: 'ejected',
          id: A,
          at: failing.at,
          detector: 'health',
          reason: `custom check failed ${unhealthyThreshold} times in a row: check returned false`,
          eligible: false,
        },
      ])
      expect(h.balancer.snapshot().endpoints.find((e) => e.id === A)?.state).toBe('unhealthy')
    })
  }

  for (const healthyThreshold of [1, 2, 4]) {
    it(`turns an unhealthy endpoint healthy on exactly its healthyThreshold-th consecutive passing check (${healthyThreshold})`, async () => {
      const h = setup({ interval: 1_000, healthyThreshold })
      h.answers.set(B, 'fail')
      await h.nextCheck(B)
      expect(h.healthOf(B).status).toBe('unhealthy')
      h.answers.set(B, 'pass')
      for (let i = 1; i < healthyThreshold; i++) {
        await h.nextCheck(B)
        expect(h.eligible(B)).toBe(false)
      }
      const passing = await h.nextCheck(B)
      expect(h.eligible(B)).toBe(true)
      expect(h.eventsOf(B, 'restored')).toEqual([
        {
          event: 'restored',
          id: B,
          at: passing.at,
          detector: 'health',
          reason: `custom check passed ${healthyThreshold} times in a row`,
          eligible: true,
        },
      ])
      expect(h.eventsOf(B, 'healthy')).toEqual([{ event: 'healthy', id: B, at: passing.at, eligible: true }])
    })
  }

  it('emits healthy and unhealthy with the endpoint and the check type, after the state change', async () => {
    const h = setup({ interval: 1_000, unhealthyThreshold: 1 })
    const seen: unknown[] = []
    h.balancer.on('healthy', (event) =>
      seen.push(['healthy', event.endpoint, event.check, h.eligible(event.endpoint.id)]),
    )
    h.balancer.on('unhealthy', (event) => {
      seen.push(['unhealthy', event.endpoint, event.check, h.eligible(event.endpoint.id)])
    })
    h.answers.set(B, 'hang')
    h.answers.set(C, 'hang')
    await h.nextCheck(A)
    h.answers.set(A, 'fail')
    await h.nextCheck(A)
    await h.clock.advance(2_000)
    const endpoint = h.stateOf(A).endpoint
    expect(seen).toEqual([
      ['healthy', endpoint, 'custom', true],
      ['unhealthy', endpoint, 'custom', false],
      // B and C hang until their 1 s timeout: failed first checks.
      ['unhealthy', h.stateOf(B).endpoint, 'custom', false],
      ['unhealthy', h.stateOf(C).endpoint, 'custom', false],
    ])
  })

  it('restarts the count when a check breaks the streak', async () => {
    const h = setup({ interval: 1_000, unhealthyThreshold: 3, healthyThreshold: 3 })
    await h.nextCheck(A)
    for (const answer of ['fail', 'fail', 'pass', 'fail', 'fail', 'pass'] as const) {
      h.answers.set(A, answer)
      await h.nextCheck(A)
      expect(h.eligible(A)).toBe(true)
    }
    h.answers.set(A, 'throw')
    for (let i = 0; i < 3; i++) await h.nextCheck(A)
    expect(h.eligible(A)).toBe(false)
    expect(h.eventsOf(A, 'ejected')[0]?.reason).toBe('custom check failed 3 times in a row: boom')
    for (const answer of ['pass', 'pass', 'fail', 'pass', 'pass'] as const) {
      h.answers.set(A, answer)
      await h.nextCheck(A)
      expect(h.eligible(A)).toBe(false)
    }
    h.answers.set(A, 'pass')
    await h.nextCheck(A)
    expect(h.eligible(A)).toBe(true)
    expect(h.eventsOf(A).map((e) => e.event)).toEqual(['healthy', 'ejected', 'unhealthy', 'restored', 'healthy'])
  })

  it('counts a check that exceeds its timeout as failed, at the timeout, and aborts its signal', async () => {
    const h = setup({ interval: 1_000, timeout: 300, unhealthyThreshold: 2 })
    await h.nextCheck(C)
    h.answers.set(C, 'hang')
    const first = await h.nextCheck(C)
    await h.clock.advance(299)
    expect(first.signal.aborted).toBe(false)
    expect(h.healthOf(C).failures).toBe(0)
    await h.clock.advance(1)
    expect(first.signal.reason).toBeInstanceOf(HealthCheckTimeoutError)
    expect(first.signal.reason).toMatchObject({ code: 'KEEL_HEALTH_CHECK_TIMEOUT', timeout: 300 })
    expect(first.settledAt).toBe(first.at + 300)
    expect(h.healthOf(C).failures).toBe(1)
    const second = await h.nextCheck(C)
    await h.clock.advance(300)
    expect(h.eventsOf(C, 'ejected')).toEqual([
      {
        event: 'ejected',
        id: C,
        at: second.at + 300,
        detector: 'health',
        reason: 'custom check failed 2 times in a row: timed out after 300 ms',
        eligible: false,
      },
    ])
  })

  it('counts a check that answers true after its timeout as failed', async () => {
    const h = setup({ interval: 1_000, timeout: 200, unhealthyThreshold: 1 })
    await h.nextCheck(A)
    h.answers.set(A, 250)
    const late = await h.nextCheck(A)
    await h.clock.advance(300)
    expect(late.settledAt).toBe(late.at + 250)
    expect(h.eligible(A)).toBe(false)
    expect(h.eventsOf(A, 'healthy')).toHaveLength(1)
    expect(h.eventsOf(A, 'unhealthy')).toHaveLength(1)
  })

  it('never overlaps checks of one endpoint: a check that ignores its abort fails again instead of restarting', async () => {
    const h = setup({ interval: 1_000, timeout: 100, unhealthyThreshold: 3 })
    await h.nextCheck(A)
    h.answers.set(A, 'deaf')
    await h.nextCheck(A)
    const runsBefore = h.runsOf(A).length
    // Each interval the hung check counts once more; no new check starts beside it.
    for (let i = 0; i < 4; i++) await h.clock.advance(1_100)
    expect(h.runsOf(A).length).toBe(runsBefore)
    expect(h.maxConcurrentPerEndpoint).toBe(1)
    expect(h.eligible(A)).toBe(false)
    expect(h.eventsOf(A, 'ejected')[0]?.reason).toBe(
      'custom check failed 3 times in a row: previous check still running',
    )
  })

  it('starts the next check when a slow one ends if the timeout is longer than the interval', async () => {
    const h = setup({ interval: 100, timeout: 500, jitter: 0 })
    await h.nextCheck(A)
    h.answers.set(A, 250)
    const slow = await h.nextCheck(A)
    h.answers.set(A, 'pass')
    await h.clock.advance(400)
    const after = h.runsOf(A).filter((r) => r.at > slow.at)
    expect(after[0]?.at).toBe(slow.at + 250)
    expect(h.maxConcurrentPerEndpoint).toBe(1)
    expect(h.healthOf(A).status).toBe('healthy')
  })
})
