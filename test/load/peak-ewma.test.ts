import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_PENALTY_MS, PeakEwma } from '../../src/load/peak-ewma.ts'

const TAU = 10_000

describe('PeakEwma', () => {
  it('jumps to a slower sample at once and decays toward 0 with time constant τ', () => {
    const e = new PeakEwma(5, 0, TAU)
    e.observe(100, 80)
    expect(e.read(100)).toBe(80)
    expect(e.read(100 + TAU)).toBeCloseTo(80 / Math.E, 9)
    expect(e.read(100 + 10 * TAU)).toBeLessThan(0.01)
  })

  it('replaces the cold-start guess with its first answer, then only peaks and decay move it', () => {
    const e = new PeakEwma(30, 0, TAU)
    expect(e.guess).toBe(true)
    e.observe(10, 2)
    expect(e.guess).toBe(false)
    expect(e.read(10)).toBe(2)
    e.observe(20, 1)
    expect(e.read(20)).toBeCloseTo(2 * Math.exp(-10 / TAU), 12)
  })

  it('leaves the reading where it is on a faster sample: only the decay brings it down', () => {
    const e = new PeakEwma(100, 0, TAU)
    const control = new PeakEwma(100, 0, TAU)
    // A real 100 ms answer first (a first answer replaces the guess whatever it is).
    e.observe(0, 100)
    control.observe(0, 100)
    for (let t = 5; t <= 15_000; t += 5) e.observe(t, 5)
    // While the decayed reading is above 5 ms, the samples change nothing.
    expect(e.read(15_000)).toBeCloseTo(control.read(15_000), 9)
    // Once it falls under 5 ms (after τ·ln 20 ≈ 30 s), every sample restores 5 ms.
    for (let t = 15_005; t <= 31_000; t += 5) e.observe(t, 5)
    expect(e.read(31_000)).toBe(5)
    expect(control.read(31_000)).toBeLessThan(5)
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
})
