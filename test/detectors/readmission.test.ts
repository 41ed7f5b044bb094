// Re-admission of endpoints ejected inline by outlier detection: probed back with one request on
// probation, on a backoff from ~1 s (Linkerd's failure accrual); the full ejection only for
// endpoints that keep failing their probes. Injected clock and random; no sockets.
import { afterEach, describe, expect, it } from 'vitest'
import { probeDelay } from '../../src/ejection/readmission.ts'
import { Balancer, type BalancerOptions, type EjectedEvent, type PickerFactory, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const open: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()))
})

/** Picks exactly the endpoint `target.id` when it is pickable. */
function pinned(target: { id: string }): PickerFactory {
  return { name: 'pinned', build: (endpoints) => ({ pick: () => endpoints.find((e) => e.endpoint.id === target.id) }) }
}

function setup(n: number, options: Partial<BalancerOptions> = {}) {
  const clock = new ManualClock()
  const target = { id: '' }
  const endpoints = Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`)
  const balancer = new Balancer({
    endpoints,
    picker: pinned(target),
    clock,
    random: seededRandom(5),
    retry: false,
    breaker: false,
    ...options,
  })
  open.push(balancer)
  const events: { kind: string; reason: string; at: number; ms?: number }[] = []
  balancer.on('ejected', (e: EjectedEvent) =>
    events.push({ kind: 'ejected', reason: e.reason, at: clock.now(), ms: (e.until ?? 0) - clock.now() }),
  )
  balancer.on('restored', (e: EjectedEvent) => events.push({ kind: 'restored', reason: e.reason, at: clock.now() }))
  async function send(i: number, outcome: 'ok' | 'fail' | 'refuse', ms = 0): Promise<boolean> {
    target.id = endpoints[i]!
    let reached = false
    const call = balancer
      .call(async () => {
        reached = true
        if (ms > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, ms))
        if (outcome === 'refuse')
          throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' })
        if (outcome === 'fail') throw Object.assign(new Error('HTTP 500'), { status: 500 })
        return 'ok'
      })
      .catch(() => {})
    if (ms > 0) await clock.advance(ms)
    await call
    return reached
  }
  /** Advances until the next `restored` event; returns its time. */
  async function untilRestored(): Promise<number> {
    const seen = events.filter((e) => e.kind === 'restored').length
    while (events.filter((e) => e.kind === 'restored').length === seen) await clock.advance(10)
    return events.filter((e) => e.kind === 'restored').at(-1)!.at
  }
  return { balancer, clock, events, send, untilRestored }
}

describe('re-admission probes', () => {
  it('start near 1 s and back off by 1.25× with ±20% jitter, at most 30 s', () => {
    const low = () => 0
    const high = () => 0.999_999
    expect([0, 1, 2, 3].map((k) => probeDelay(k, low))).toEqual([800, 1_000, 1_250, 1_563])
    expect([0, 1, 2, 3].map((k) => probeDelay(k, high))).toEqual([1_200, 1_500, 1_875, 2_344])
    expect(probeDelay(20, high)).toBe(36_000)
    expect(probeDelay(20, low)).toBe(24_000)
    // Connect probes stay near 1 s for their first ten failures, then back off the same way.
    expect([0, 5, 10, 11, 12].map((k) => probeDelay(k, low, true))).toEqual([800, 800, 800, 1_000, 1_250])
  })

  it('restore a refused endpoint on probation ~1 s later; its request succeeds and it stays', async () => {
    const t = setup(2)
    await t.send(0, 'refuse')
    expect(t.events).toEqual([{ kind: 'ejected', reason: 'consecutive-not-sent', at: 1_000, ms: 30_000 }])
    const back = await t.untilRestored()
    expect(t.events.at(-1)).toMatchObject({ kind: 'restored', reason: 'probe' })
    expect(back - 1_000).toBeGreaterThanOrEqual(800)
    expect(back - 1_000).toBeLessThanOrEqual(1_200)
    expect(await t.send(0, 'ok')).toBe(true)
    expect(t.balancer.snapshot().endpoints[0]!.state).toBe('active')
  })

  it('keep an endpoint that still refuses out, probing it less and less often', async () => {
    const t = setup(2)
    await t.send(0, 'refuse')
    const restores: number[] = [1_000]
    for (let k = 0; k < 4; k++) {
      restores.push(await t.untilRestored())
      // The probe request is refused: out again at once.
      expect(await t.send(0, 'refuse')).toBe(true)
      expect(t.events.at(-1)).toMatchObject({ kind: 'ejected', reason: 'consecutive-not-sent' })
      expect(await t.send(0, 'ok')).toBe(false)
    }
    const gaps = restores.slice(1).map((at, i) => at - restores[i]!)
    // ~1, 1.25, 1.6, 2 s (±20%): the waits grow.
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!)
    expect(gaps[0]!).toBeGreaterThanOrEqual(800)
    expect(gaps[0]!).toBeLessThanOrEqual(1_200)
    expect(gaps[3]!).toBeGreaterThanOrEqual(1_560)
    expect(gaps[3]!).toBeLessThanOrEqual(2_350)
  })

  it('probe a failing endpoint with one request: a failure ejects it again at once, a success restores it', async () => {
    const t = setup(2)
    for (let k = 0; k < 5; k++) await t.send(0, 'fail')
    expect(t.events).toEqual([{ kind: 'ejected', reason: 'consecutive-failures', at: 1_000, ms: 30_000 }])
    // First probe: restored on probation; its one request fails, so it is out again at once.
    await t.clock.advance(1_200)
    expect(t.events.at(-1)).toMatchObject({ kind: 'restored', reason: 'probe' })
    expect(await t.send(0, 'fail')).toBe(true)
    expect(t.events.at(-1)).toMatchObject({ kind: 'ejected', reason: 'consecutive-failures' })
    expect(await t.send(0, 'ok')).toBe(false)
    // Second probe, 1–1.5 s later: restored again; this time the request succeeds.
    await t.clock.advance(1_800)
    expect(t.events.at(-1)).toMatchObject({ kind: 'restored', reason: 'probe' })
    expect(await t.send(0, 'ok')).toBe(true)
    // Probation over: a single failure no longer ejects (it takes 5 again).
    await t.send(0, 'fail')
    expect(t.events.at(-1)).toMatchObject({ kind: 'restored' })
    expect(t.events.filter((e) => e.kind === 'ejected')).toHaveLength(2)
  })

  it('restart the latency estimate from the peers, so a restored endpoint gets traffic', async () => {
    const t = setup(2)
    await t.send(1, 'ok', 20)
    await t.send(0, 'refuse')
    // The refusal charged a penalty: at least twice the peer's 20 ms.
    expect(t.balancer.snapshot().endpoints[0]!.ewmaMs).toBeGreaterThan(35)
    await t.untilRestored()
    const [first, second] = t.balancer.snapshot().endpoints
    expect(second!.ewmaMs).toBeGreaterThan(15)
    expect(first!.ewmaMs).toBeCloseTo(second!.ewmaMs, 5)
  })

  it('with readmission: false, sit out the whole ejection (Envoy)', async () => {
    const t = setup(2, { outlierDetection: { readmission: false } })
    await t.send(0, 'refuse')
    await t.clock.advance(29_999)
    expect(t.events.map((e) => e.kind)).toEqual(['ejected'])
    await t.clock.advance(1)
    expect(t.events.at(-1)).toMatchObject({ kind: 'restored', reason: 'expired' })
  })

  it('leave statistical ejections alone: no probe for success-rate or failure-percentage', async () => {
    const t = setup(5, { outlierDetection: { failurePercentage: { threshold: 70 } } })
    // 50 calls per endpoint in one interval; endpoint 0 fails 70% of them, never 5 in a row.
    for (let k = 0; k < 50; k++) {
      for (let i = 0; i < 5; i++) await t.send(i, i === 0 && k % 10 !== 0 && k % 4 !== 0 ? 'fail' : 'ok')
    }
    await t.clock.advance(10_000)
    const ejection = t.events.find((e) => e.kind === 'ejected')
    expect(ejection?.reason).toMatch(/success-rate|failure-percentage/)
    await t.clock.advance(5_000)
    expect(t.events.filter((e) => e.kind === 'restored')).toEqual([])
  })
})
