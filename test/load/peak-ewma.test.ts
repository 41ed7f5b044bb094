import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_PENALTY_MS, PeakEwma, STALE_AFTER_MS } from '../../src/load/peak-ewma.ts'

const TAU = 10_000

describe('PeakEwma', () => {
  it('jumps to a level three requests that did not overlap all took, and decays toward 0', () => {
    const e = new PeakEwma(30, 0, TAU)
    e.observe(10, 5)
    e.observe(20, 5)
    // Two slow answers (each sent after the last one ended): not confirmed, the estimate stays ~5.
    e.observe(100, 80)
    e.observe(190, 60)
    expect(e.read(190)).toBeCloseTo(5, 1)
    // The third, sent after the second ended, is slow too: the estimate jumps to the lowest of them.
    e.observe(280, 70)
    expect(e.read(280)).toBe(60)
    // Raised from a reading of ~5 ms: the peak decays with a time constant of
    // RECOVERY_ROUND_TRIPS × that (~1 s), not τ.
    expect(e.read(1_280)).toBeGreaterThan(60 * Math.exp(-1_000 / 900))
    expect(e.read(1_280)).toBeLessThan(60 * Math.exp(-1_000 / 1_000))
    // Without a confirmed peak the decay is τ.
    const f = new PeakEwma(80, 0, TAU)
    f.observe(0, 80)
    expect(f.read(TAU)).toBeCloseTo(80 / Math.E, 9)
    expect(f.read(10 * TAU)).toBeLessThan(0.01)
  })

  it('ignores a single spike, and a burst of answers caught in the same pause', () => {
    const e = new PeakEwma(30, 0, TAU)
    let now = 0
    for (let k = 0; k < 10; k++) e.observe((now += 5), 5)
    // One call at a time: one answer after 200 ms, then 5 ms ones again.
    e.observe((now += 200), 200)
    expect(e.read(now)).toBeCloseTo(5, 1)
    for (let k = 0; k < 3; k++) e.observe((now += 5), 5)
    expect(e.read(now)).toBeCloseTo(5, 1)
    // A 100 ms pause with 16 requests in flight: they all end when it ends, every one sent before
    // the first of them ended, so none confirms another.
    const pauseEnd = now + 100
    for (let k = 0; k < 16; k++) e.observe(pauseEnd, 100 + k / 4)
    expect(e.read(pauseEnd)).toBeCloseTo(5, 1)
    e.observe(pauseEnd + 5, 5)
    expect(e.read(pauseEnd + 5)).toBeCloseTo(5, 1)
  })

  it('stays tentative for three answers at the fastest of them and the guess; a slower level waits for confirmation', () => {
    const e = new PeakEwma(30, 0, TAU)
    expect(e.guess).toBe(true)
    e.observe(10, 20)
    expect(e.read(10)).toBe(20)
    // Not halfway: a first answer (a new connection, a cold process) is a poor measurement.
    e.observe(12, 2)
    expect(e.read(12)).toBe(2)
    expect(e.guess).toBe(true)
    e.observe(14, 3)
    expect(e.guess).toBe(false)
    expect(e.read(14)).toBeCloseTo(2, 2)
    // A first answer slowed by the connection's handshake does not set the estimate.
    const f = new PeakEwma(2, 0, TAU)
    f.observe(12, 12)
    expect(f.guess).toBe(true)
    expect(f.read(12)).toBeCloseTo(2, 2)
    f.observe(14, 1)
    expect(f.read(14)).toBe(1)
    // A replica that is really slow confirms it with its third answer.
    const g = new PeakEwma(2, 0, TAU)
    g.observe(40, 40)
    g.observe(80, 40)
    expect(g.read(80)).toBeCloseTo(2, 1)
    expect(g.guess).toBe(true)
    g.observe(120, 40)
    expect(g.read(120)).toBe(40)
    expect(g.guess).toBe(false)
  })

  it('moves halfway to each faster answer: back from 20× within a few answers', () => {
    const e = new PeakEwma(30, 0, TAU)
    e.observe(100, 100)
    e.observe(200, 100)
    e.observe(300, 100)
    expect(e.read(300)).toBe(100)
    const readings: number[] = []
    for (let t = 305; t <= 330; t += 5) {
      e.observe(t, 5)
      readings.push(Math.round(e.read(t) * 100) / 100)
    }
    // Half the distance per answer, less the decay (this peak decays over 200 × 5 ms): inside
    // 2 × 5 + 1 ms, the noise band of its peers, after the fourth.
    expect(readings.map(Math.round)).toEqual([52, 29, 17, 11, 8, 6])
    expect(readings[3]).toBeLessThan(11)
  })

  it('never lowers the reading on a caller-error, whatever came before', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('observe', 'raise', 'penalize'),
            dt: fc.integer({ min: 0, max: 20_000 }),
            rtt: fc.double({ min: 0, max: 500, noNaN: true }),
          }),
          { maxLength: 40 },
        ),
        (steps) => {
          const e = new PeakEwma(30, 0, TAU)
          let now = 0
          for (const step of steps) {
            now += step.dt
            const before = e.read(now)
            if (step.kind === 'observe') e.observe(now, step.rtt)
            else if (step.kind === 'penalize') e.penalize(now, step.rtt, 5)
            else {
              e.raise(now, step.rtt)
              if (e.read(now) < before) return false
            }
          }
          return true
        },
      ),
      { seed: 7, numRuns: 500 },
    )
  })

  it('holds the estimate on a caller-error: an endpoint answering only 404s does not decay toward 0', () => {
    const e = new PeakEwma(5, 0, TAU)
    for (let t = 1_000; t <= 120_000; t += 1_000) e.raise(t, 0)
    expect(e.read(120_000)).toBe(5)
    // A slower caller-error raises it.
    e.raise(121_000, 40)
    expect(e.read(121_000)).toBe(40)
  })

  it('charges a failure twice the higher of its reading and the floor, doubling on each failure, capped', () => {
    const e = new PeakEwma(10, 0, TAU)
    e.penalize(0, 0, 3)
    expect(e.read(0)).toBe(20)
    e.penalize(0, 0, 3)
    expect(e.read(0)).toBe(40)
    // Decayed toward 0 while sitting out: the floor still applies.
    e.penalize(200_000, 0, 3)
    expect(e.read(200_000)).toBe(6)
    // A real round trip longer than the penalty is recorded as it is.
    e.penalize(200_000, 500, 3)
    expect(e.read(200_000)).toBe(500)
    for (let i = 0; i < 20; i++) e.penalize(200_000, 0, 3)
    expect(e.read(200_000)).toBe(MAX_PENALTY_MS)
    e.penalize(200_000, 90_000, 3)
    expect(e.read(200_000)).toBe(90_000)
  })

  it('counts an answer that skipped the work as busy for the time it did not take', () => {
    const e = new PeakEwma(20, 0, TAU)
    expect(e.loaded(0, 0)).toBe(20)
    // An instant 404: one more request "in flight", for about the 20 ms a real answer takes.
    e.raise(0, 0)
    expect(e.busy(0)).toBe(1)
    expect(e.loaded(0, 0)).toBe(40)
    expect(e.loaded(0, 3)).toBeCloseTo(20 * (1 + 1 / 4), 9)
    expect(e.busy(20)).toBeCloseTo(1 / Math.E, 9)
    // Half the usual time: half a request.
    const f = new PeakEwma(20, 0, TAU)
    f.penalize(0, 10, 0)
    expect(f.busy(0)).toBeCloseTo(0.5, 9)
    // As long as a real answer: none.
    const g = new PeakEwma(20, 0, TAU)
    g.raise(0, 20)
    expect(g.busy(0)).toBe(0)
  })

  it('starts afresh on reset', () => {
    const e = new PeakEwma(20, 0, TAU)
    e.penalize(0, 0, 0)
    e.reset(10, 7)
    expect(e.read(10)).toBe(7)
    expect(e.busy(10)).toBe(0)
  })

  it('goes stale after 1 s, 200 round trips of the peer and 10 of its own last answer, whichever is longest', () => {
    const e = new PeakEwma(30, 0, TAU)
    for (let t = 5; t <= 15; t += 5) e.observe(t, 5)
    expect(e.stale(15 + STALE_AFTER_MS - 1, 1)).toBe(false)
    expect(e.stale(15 + STALE_AFTER_MS, 1)).toBe(true)
    // Peers at 50 ms: 200 of their round trips, 10 s.
    expect(e.stale(15 + 9_999, 50)).toBe(false)
    expect(e.stale(15 + 10_000, 50)).toBe(true)
    // Its own last answer took 500 ms: 5 s.
    e.observe(1_000, 500)
    expect(e.stale(5_999, 1)).toBe(false)
    expect(e.stale(6_000, 1)).toBe(true)
  })

  it('takes the answer to a request sent to a stale estimate as it is, not halfway', () => {
    const e = new PeakEwma(5, 0, TAU)
    for (let t = 5; t <= 15; t += 5) e.observe(t, 5)
    // Refused while down: charged, doubling.
    e.penalize(20, 0, 11)
    e.penalize(1_100, 0, 11)
    e.penalize(2_200, 0, 11)
    expect(e.read(2_200)).toBeGreaterThan(70)
    // Not stale yet: halfway.
    const f = new PeakEwma(5, 0, TAU)
    for (let t = 5; t <= 15; t += 5) f.observe(t, 5)
    f.penalize(20, 0, 11)
    f.observe(500, 5)
    expect(f.read(500)).toBeGreaterThan(11)
    // Sent 1 s after the last charge: its answer decides.
    e.observe(3_205, 5)
    expect(e.read(3_205)).toBe(5)
  })

  it('re-measures a relapse only after the decay, and failed re-measurements 1 s apart ten times, then further', () => {
    const e = new PeakEwma(5, 0, TAU)
    for (let t = 5; t <= 15; t += 5) e.observe(t, 5)
    // A failure with no recovery before it: re-measured after 1 s.
    e.penalize(100, 0, 11)
    expect(e.stale(1_100, 5)).toBe(true)
    // It recovers, and fails again 2 s later: a relapse, re-measured after the decay (10 s).
    e.observe(1_105, 5)
    e.penalize(3_000, 0, 11)
    expect(e.stale(12_999, 0)).toBe(false)
    expect(e.stale(13_000, 0)).toBe(true)
    // Recovered, then failing more than the decay later: a new incident, 1 s again.
    e.observe(13_005, 5)
    e.penalize(24_000, 0, 11)
    expect(e.stale(25_000, 0)).toBe(true)
    // Down: ten failed re-measurements 1 s apart, then 1.25×, 1.5625× … the second.
    let t = 24_000
    for (let k = 0; k < 10; k++) {
      expect(e.stale(t + 1_000, 0)).toBe(true)
      t += 1_000
      e.penalize(t, 0, 11)
    }
    expect(e.stale(t + 1_000, 0)).toBe(true)
    t += 1_000
    e.penalize(t, 0, 11)
    expect(e.stale(t + 1_249, 0)).toBe(false)
    expect(e.stale(t + 1_250, 0)).toBe(true)
  })
})
