import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/index.ts'
import { Simulation } from './simulation.ts'

// Three endpoints on a manual clock with seeded random; every count below is exact under its seed.
// Breakers and outlier detection are off where an endpoint fails, so the picker alone is tested
// (the drills' case: a client that sent a replica too few requests to eject it).
// "Before" figures: the same tests on the picker without staleness (branch `drills`).

/** How long after `at` endpoint `index` got its first attempt (Infinity: never). */
function firstAfter(sim: Simulation, index: number, at: number): number {
  const from = sim.indexAt(at)
  for (let k = from; k < sim.sent.length; k++) if (sim.sent[k]!.id === sim.ids[index]) return sim.sent[k]!.at - at
  return Number.POSITIVE_INFINITY
}

describe('p2c-ewma re-measures an estimate no answer has refreshed', () => {
  // ms from listening again to its first request. Before: 3,996, 4,900, 3,938, 144 (at 20 ms and
  // 3 in flight its peers' in-flight counts already outweighed its charge) and 5,939 after an
  // 8 s outage.
  it.each([
    [5, 1, 3_000, 47],
    [5, 8, 3_000, 0],
    [1, 1, 3_000, 3],
    [20, 3, 3_000, 144],
    [5, 1, 8_000, 100],
  ])(
    'gives a replica charged failures while it refused connections a request within 2 s of listening again: %f ms, %i in flight, down %i ms',
    async (latency, workers, downMs, expected) => {
      const sim = new Simulation(3, 301, { breaker: false, outlierDetection: false })
      for (let i = 0; i < 3; i++) sim.backend(i).latency = latency
      const t0 = sim.clock.now()
      sim.clock.setTimeout(() => {
        sim.backend(0).latency = 0
        sim.backend(0).answer = 'refused'
      }, 5_000)
      sim.clock.setTimeout(() => {
        sim.backend(0).latency = latency
        sim.backend(0).answer = 'ok'
      }, 5_000 + downMs)
      await sim.run(12_000 + downMs, workers)
      const listening = t0 + 5_000 + downMs
      // While it refused: one re-measurement a second (each retried elsewhere: no caller failed).
      const refused = sim.countTo(0, sim.indexAt(t0 + 5_000), sim.indexAt(listening))
      expect(refused).toBeLessThanOrEqual(downMs / 1_000 + 8 * workers)
      expect(sim.failedCalls).toBe(0)
      expect(Math.round(firstAfter(sim, 0, listening))).toBe(expected)
      // And its share is back: fair is 1/3.
      expect(sim.shareBetween(0, listening + 2_000, listening + 7_000)).toBeGreaterThan(0.3)
    },
  )

  // Its last answers took 200 ms (confirmed: three that did not overlap), so it is re-measured
  // 2 s (10 of its own round trips) after the last of them, which may end up to 200 ms after it
  // turned fast. Before: none within the 12 s that followed (one call at a time), 175 ms (the decay's
  // probe happened to come then).
  it.each([
    [1, 2_055],
    [3, 1_825],
  ])('re-measures an endpoint whose answers were slow for a while: %i in flight', async (workers, expected) => {
    const sim = new Simulation(3, 309)
    const t0 = sim.clock.now()
    sim.backend(0).latency = 200
    sim.clock.setTimeout(() => (sim.backend(0).latency = 5), 3_000)
    await sim.run(15_000, workers)
    expect(Math.round(firstAfter(sim, 0, t0 + 3_000))).toBe(expected)
    expect(sim.shareBetween(0, t0 + 6_000, t0 + 15_000)).toBeGreaterThan(0.3)
  })
})

describe('p2c-ewma keeps a failing or slow endpoint to a trickle', () => {
  // Share of attempts after the first 6 s (fair: 1/3). Before → after: 0.61% → 0.45% (5 ms, 1),
  // 2.43% → 2.43% (5 ms, 8), 5.93% → 5.93% (50 ms, 1), 10.5% → 10.5% (50 ms, 8). A failure within
  // the decay time of its recovery is a relapse: re-measured only after the decay, as before.
  it.each([
    [5, 1, 0.0045],
    [5, 8, 0.0243],
    [50, 1, 0.0593],
    [50, 8, 0.1053],
  ])('an endpoint failing one request in ten: %f ms backends, %i in flight', async (latency, workers, expected) => {
    const sim = new Simulation(3, 303, { breaker: false, outlierDetection: false })
    for (let i = 0; i < 3; i++) sim.backend(i).latency = latency
    const random = seededRandom(304)
    const fn = sim.fn
    const t0 = sim.clock.now()
    const end = t0 + 60_000
    const flaky = async (endpoint: Parameters<typeof fn>[0]) => {
      const value = await fn(endpoint)
      if (endpoint.id === sim.ids[0] && random() < 0.1) throw Object.assign(new Error('500'), { status: 500 })
      return value
    }
    const loop = async () => {
      while (sim.clock.now() < end) await sim.balancer.call(flaky, { idempotent: true }).catch(() => undefined)
    }
    const loops = Array.from({ length: workers }, loop)
    await sim.clock.advance(61_000)
    await Promise.all(loops)
    const from = sim.indexAt(t0 + 6_000)
    expect(sim.countTo(0, from) / (sim.sent.length - from)).toBeCloseTo(expected, 4)
  })

  // Attempts it got after 2 s of warm-up. Before → after: 32 → 112 (0.14% → 0.50% of attempts),
  // 50 → 112 (0.03% → 0.06%), 7 → 11 (0.31% → 0.49%), 25 → 25 (0.13%): at most one
  // re-measurement per 1 s and per 200 of its peers' round trips.
  it.each([
    [5, 1, 112],
    [5, 8, 112],
    [50, 1, 11],
    [50, 8, 25],
  ])('a 10× slower endpoint: %f ms backends, %i in flight', async (latency, workers, expected) => {
    const sim = new Simulation(3, 305)
    for (let i = 0; i < 3; i++) sim.backend(i).latency = latency
    sim.backend(0).latency = 10 * latency
    const t0 = sim.clock.now()
    await sim.run(120_000, workers)
    const from = sim.indexAt(t0 + 2_000)
    expect(sim.countTo(0, from)).toBe(expected)
    expect(sim.countTo(0, from) / (sim.sent.length - from)).toBeLessThan(0.005)
  })

  // Attempts in the 60 s after it starts failing. Before → after: 9 → 22 (5 ms, 1 and 8 in
  // flight), 8 → 8 (50 ms):
  // one a second for ten seconds, then 1.25× further apart each, up to the 10 s decay.
  it.each([
    [5, 1, 22],
    [5, 8, 22],
    [50, 1, 8],
  ])('an endpoint failing every request: %f ms backends, %i in flight', async (latency, workers, expected) => {
    const sim = new Simulation(3, 307, { breaker: false, outlierDetection: false })
    for (let i = 0; i < 3; i++) sim.backend(i).latency = latency
    const t0 = sim.clock.now()
    sim.clock.setTimeout(() => {
      sim.backend(0).latency = 0
      sim.backend(0).answer = 'endpoint-failure'
    }, 5_000)
    await sim.run(65_000, workers)
    expect(sim.countTo(0, sim.indexAt(t0 + 5_000))).toBe(expected)
    expect(sim.failedCalls).toBe(0)
  })
})
