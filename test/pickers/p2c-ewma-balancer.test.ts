import { describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer } from '../../src/index.ts'
import { Simulation } from './simulation.ts'

// Four endpoints answering in 5 ms on a manual clock; every count is exact under its seed.
// `workers` is how many calls run at once (1: strictly sequential).

describe('p2c-ewma through a balancer', () => {
  it('is the default picker', () => {
    const balancer = new Balancer({ endpoints: ['http://a:1', 'http://b:1'] })
    expect(coreOf(balancer).options.picker.name).toBe('p2c-ewma')
  })

  it.each([1, 8])(
    'with %i call(s) at a time, takes traffic off an endpoint that turns 20× slower within 50 calls and gives it back within 5 s of its recovery',
    async (workers) => {
      const sim = new Simulation(4, 101)
      const t0 = sim.clock.now()
      sim.clock.setTimeout(() => (sim.backend(0).latency = 100), 20_000)
      sim.clock.setTimeout(() => (sim.backend(0).latency = 5), 30_000)
      await sim.run(80_000, workers)
      expect(sim.shareBetween(0, t0 + 10_000, t0 + 20_000)).toBeCloseTo(0.25, 1)
      const slow = sim.indexAt(t0 + 20_000)
      // Fair would be 12.5 of 50; it takes the few that reveal its new latency, then nothing.
      expect(sim.countTo(0, slow, slow + 50)).toBeLessThanOrEqual(4)
      // Then a probe every few seconds (its peak decays over 200 round trips of ~10 ms, the band
      // it was probed from); under concurrency also the calls sent before its third slow answer.
      const out = sim.indexAt(t0 + 30_000)
      expect(sim.countTo(0, slow + 50, out)).toBeLessThan((out - slow) / 200)
      // Recovered at 30 s: its next probe sees it, within 5 s, and its share returns.
      const back = sim.shareBetween(0, t0 + 35_000, t0 + 40_000)
      expect(back).toBeGreaterThanOrEqual(0.2)
      expect(back).toBeLessThanOrEqual(0.3)
      const share = sim.shareBetween(0, t0 + 65_000, t0 + 70_000)
      expect(share).toBeGreaterThanOrEqual(0.2)
      expect(share).toBeLessThanOrEqual(0.3)
      expect(sim.failedCalls).toBe(0)
    },
  )

  // Backends at 5 ms and at 100 ms (slower than any fixed penalty floor would assume), one call
  // at a time and 16 at once (busy endpoints cost (in-flight + 1) times their latency).
  const FAILING: [number, number][] = [
    [5, 1],
    [5, 16],
    [100, 1],
    [100, 16],
  ]

  it.each(FAILING)(
    'with %i ms backends and %i call(s) at a time, never gives an endpoint failing instantly more than its fair share of attempts',
    async (latency, workers) => {
      // Breakers and outlier detection off: the picker alone keeps it out.
      const sim = new Simulation(4, 103, { breaker: false, outlierDetection: false })
      for (let i = 0; i < 4; i++) sim.backend(i).latency = latency
      const t0 = sim.clock.now()
      sim.clock.setTimeout(() => {
        sim.backend(0).latency = 0
        sim.backend(0).answer = 'endpoint-failure'
      }, 20_000)
      await sim.run(100_000, workers)
      const from = sim.indexAt(t0 + 20_000)
      const attempts = sim.sent.length - from
      // It is probed again each time its estimate decays below the others' (so the check below
      // covers estimates that had decayed), and never twice in any four consecutive attempts.
      expect(sim.countTo(0, from)).toBeGreaterThanOrEqual(4)
      expect(sim.worstWindow(0, 4, from)).toBe(1)
      expect(sim.countTo(0, from)).toBeLessThan(attempts / 20)
      // Its failures are retried elsewhere: no caller sees one.
      expect(sim.failedCalls).toBe(0)
    },
  )

  it.each(FAILING)(
    'with %i ms backends and %i call(s) at a time, keeps an endpoint failing instantly to its fair share after a quiet spell decayed every estimate toward 0',
    async (latency, workers) => {
      const sim = new Simulation(4, 107, { breaker: false, outlierDetection: false })
      for (let i = 0; i < 4; i++) sim.backend(i).latency = latency
      sim.backend(0).latency = 0
      sim.backend(0).answer = 'endpoint-failure'
      await sim.run(30_000, workers)
      // Five minutes without a call: every estimate is now e^-30 of what it was.
      await sim.clock.advance(300_000)
      const from = sim.sent.length
      expect(Math.max(...sim.balancer.snapshot().endpoints.map((e) => e.ewmaMs))).toBeLessThan(0.01)
      await sim.run(30_000, workers)
      // With 16 calls at a time, the 16 picks that resume traffic happen before any answer is
      // back: a round of them is the unit of fairness.
      const window = 4 * workers
      expect(sim.worstWindow(0, window, from)).toBeLessThanOrEqual(window / 4)
      expect(sim.countTo(0, from)).toBeLessThan((sim.sent.length - from) / 20)
      expect(sim.failedCalls).toBe(0)
    },
  )

  it.each([1, 8])(
    'with %i call(s) at a time, does not give an endpoint answering only instant caller errors more than its share',
    async (workers) => {
      const sim = new Simulation(4, 109)
      const t0 = sim.clock.now()
      sim.clock.setTimeout(() => {
        sim.backend(2).latency = 0
        sim.backend(2).answer = 'caller-error'
      }, 20_000)
      await sim.run(60_000, workers)
      for (let at = 20_000; at < 60_000; at += 10_000) {
        expect(sim.shareBetween(2, t0 + at, t0 + at + 10_000)).toBeLessThanOrEqual(0.25)
      }
    },
  )

  it.each([1, 8])(
    'with %i call(s) at a time, keeps a healthy endpoint that answers one call in five with a 404 near its fair share',
    async (workers) => {
      const sim = new Simulation(4, 113)
      let served = 0
      const fn = sim.fn
      const balancer = sim.balancer
      const t0 = sim.clock.now()
      // Endpoint 1 answers every fifth of its calls with a 404, after the same 5 ms.
      const mixed = async (endpoint: Parameters<typeof fn>[0]) => {
        const value = await fn(endpoint)
        if (endpoint.id === sim.ids[1] && ++served % 5 === 0) throw Object.assign(new Error('404'), { status: 404 })
        return value
      }
      const end = t0 + 60_000
      const loop = async () => {
        while (sim.clock.now() < end) await balancer.call(mixed).catch(() => undefined)
      }
      const loops = Array.from({ length: workers }, loop)
      await sim.clock.advance(61_000)
      await Promise.all(loops)
      const share = sim.shareBetween(1, t0 + 20_000, end)
      expect(share).toBeGreaterThanOrEqual(0.2)
      expect(share).toBeLessThanOrEqual(0.3)
    },
  )
})
