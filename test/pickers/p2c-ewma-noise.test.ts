import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/index.ts'
import { Simulation } from './simulation.ts'

// Three endpoints on a manual clock with seeded random; every count below is exact under its seed.
// Latencies are jittered: base × U(0.5, 1.5), and one answer in 50 a spike of 10 × base (a GC
// pause, a stalled event loop). `workers` is how many calls run at once (1: strictly sequential).

function jittered(sim: Simulation, seed: number): void {
  const random = seededRandom(seed)
  sim.latencyOf = (backend) => (random() < 0.02 ? backend.latency * 10 : backend.latency * (0.5 + random()))
}

function simulation(base: number, seed: number): Simulation {
  const sim = new Simulation(3, seed)
  for (let i = 0; i < 3; i++) sim.backend(i).latency = base
  jittered(sim, seed + 1)
  return sim
}

/** The lowest and highest share any endpoint had in any of the windows of `window` ms. */
function shareRange(sim: Simulation, from: number, to: number, window: number): [number, number] {
  let low = 1
  let high = 0
  for (let at = from; at < to; at += window) {
    for (let i = 0; i < sim.ids.length; i++) {
      const share = sim.shareBetween(i, at, at + window)
      low = Math.min(low, share)
      high = Math.max(high, share)
    }
  }
  return [low, high]
}

describe('p2c-ewma under latency noise', () => {
  // Fair is 1/3. One call at a time, each window holds 1,000–2,000 calls: 0.25–0.42 is about ±4σ
  // of a fair coin. (Plain PeakEWMA: an endpoint got 0–1% of some 2 s windows on real backends.)
  it.each([
    [1, 1, 20_000, 2_000, 0.25, 0.42],
    [0.5, 1, 10_000, 1_000, 0.25, 0.42],
    [1, 32, 2_000, 200, 0.3, 0.37],
    [50, 32, 20_000, 2_000, 0.3, 0.37],
  ])(
    'spreads calls over equal endpoints with jittered %f ms latencies, %i in flight: every endpoint within bounds in every window',
    async (base, workers, duration, window, min, max) => {
      const sim = simulation(base, 201)
      const t0 = sim.clock.now()
      await sim.run(duration, workers)
      const [low, high] = shareRange(sim, t0, t0 + duration, window)
      expect(low).toBeGreaterThanOrEqual(min)
      expect(high).toBeLessThanOrEqual(max)
      expect(sim.failedCalls).toBe(0)
    },
  )

  it.each([
    [0.5, 1, 20_000],
    [0.5, 8, 5_000],
    [50, 1, 200_000],
    [50, 8, 200_000],
  ])(
    'keeps a 20× slower endpoint under one percent after warm-up at %f ms, %i in flight',
    async (base, workers, duration) => {
      const sim = simulation(base, 203)
      sim.backend(2).latency = base * 20
      const t0 = sim.clock.now()
      await sim.run(duration, workers)
      const from = sim.indexAt(t0 + 1_000)
      // Its probes: one every 200 round trips × ln(20 / 2) or so, each also charged to its in-flight count.
      expect(sim.countTo(2, from) / (sim.sent.length - from)).toBeLessThan(0.01)
    },
  )

  // One spike: the next pick of that endpoint comes as if nothing happened (fair: one in three;
  // plain PeakEWMA kept it out for τ·ln 50 ≈ 39 s), and so do two. Three in a row are confirmed: out for about
  // 200 round trips × ln(50 / its band), ~0.6 s at 1 ms.
  it.each([
    [1, 1, 10],
    [50, 1, 10],
    [1, 2, 10],
    [1, 3, 700],
  ])(
    'one call at a time at %i ms: %i spike(s) in a row keep an endpoint out for at most %i picks',
    async (base, row, bound) => {
      const sim = new Simulation(3, 205)
      for (let i = 0; i < 3; i++) sim.backend(i).latency = base
      // Uniform jitter only here, so that every spike is the one scheduled.
      const random = seededRandom(206)
      const t0 = sim.clock.now()
      // Twenty times, the next `row` calls endpoint 0 gets answer after 50 × its latency (a GC pause).
      const spikes = Array.from({ length: 20 }, (_, k) => t0 + 2_000 * base * (k + 1))
      let next = 0
      let left = 0
      sim.latencyOf = (backend, index) => {
        if (index === 0 && next < spikes.length && sim.clock.now() >= spikes[next]!) {
          next++
          left = row
        }
        if (index === 0 && left > 0) {
          left--
          return backend.latency * 50
        }
        return backend.latency * (0.5 + random())
      }
      await sim.run(2_000 * base * 21, 1)
      // Picks between the last spiked attempt and endpoint 0's next one.
      const gaps: number[] = []
      for (const at of spikes) {
        let k = sim.indexAt(at)
        for (let seen = 0; seen < row; k++) if (sim.sent[k]!.id === sim.ids[0]) seen++
        const spiked = k - 1
        while (sim.sent[k]!.id !== sim.ids[0]) k++
        gaps.push(k - spiked - 1)
      }
      expect(Math.max(...gaps)).toBeLessThanOrEqual(bound)
    },
  )

  it('32 calls at a time: a 50 ms pause that stalls every call in flight on an endpoint does not take it out', async () => {
    const sim = simulation(1, 207)
    const t0 = sim.clock.now()
    const pause = t0 + 1_000
    const jitter = sim.latencyOf
    sim.latencyOf = (backend, index) => {
      const at = sim.clock.now()
      const latency = jitter(backend, index)
      return index === 0 && at < pause + 50 && at + latency > pause ? Math.max(latency, pause + 50 - at) : latency
    }
    await sim.run(1_500, 32)
    // From the pause's end on, its share of every 50 ms window (~1,600 calls) stays near 1/3.
    for (let at = pause + 50; at < pause + 450; at += 50) expect(sim.shareBetween(0, at, at + 50)).toBeGreaterThan(0.3)
  })

  // Its next probe comes once the peak has decayed into its peers' band: 200 round trips of the
  // band (~2 ms at 0.5 ms) × ln 5 ≈ 0.7 s; at 50 ms the decay is capped at τ = 10 s: τ·ln(1000 / 101) ≈ 23 s.
  it.each([
    [0.5, 10_000, 1_000],
    [50, 100_000, 25_000],
  ])('takes a 20× slower endpoint back soon after it recovers: %f ms', async (base, slowFor, bound) => {
    const sim = simulation(base, 209)
    sim.backend(2).latency = base * 20
    const t0 = sim.clock.now()
    sim.clock.setTimeout(() => (sim.backend(2).latency = base), slowFor)
    await sim.run(slowFor + bound + 20 * base * 400, 1)
    const after = sim.indexAt(t0 + slowFor)
    const first = sim.sent.findIndex((s, i) => i >= after && s.id === sim.ids[2])
    expect(sim.sent[first]!.at - t0 - slowFor).toBeLessThan(bound)
    const share = sim.shareBetween(2, t0 + slowFor + bound, t0 + slowFor + bound + 400 * base)
    expect(share).toBeGreaterThan(0.25)
    expect(share).toBeLessThan(0.42)
  })
})
