import { describe, expect, it } from 'vitest'
import { leastRequest, seededRandom } from '../../src/index.ts'
import { build, distinctPair, endpoints, FakeContext, type FakeEndpoint, recording } from './fakes.ts'

describe('least-request', () => {
  it('never returns the more loaded of its two candidates (checked on every pick)', () => {
    const list = endpoints([1, 1, 1, 1, 1, 1, 1, 1])
    const { random, draws } = recording(17)
    const picker = build(leastRequest(), list, random)
    const context = new FakeContext()
    const completions = seededRandom(18)
    const violations: string[] = []
    let equalLoadPicks = 0
    for (let pick = 0; pick < 20_000; pick++) {
      const at = draws.length
      const picked = picker.pick(context) as FakeEndpoint
      expect(draws.length).toBe(at + 2)
      const [i, j] = distinctPair(draws[at]!, draws[at + 1]!, list.length)
      const other = picked === list[i] ? list[j]! : list[i]!
      if (picked !== list[i] && picked !== list[j]) violations.push(`pick ${pick}: not a candidate`)
      if (picked.inFlight > other.inFlight) violations.push(`pick ${pick}: ${picked.inFlight} > ${other.inFlight}`)
      if (picked.inFlight === other.inFlight) equalLoadPicks++
      picked.inFlight++
      for (const e of list) if (e.inFlight > 0 && completions() < 0.35) e.inFlight--
    }
    expect(violations).toEqual([])
    // Loads differed often enough for the check to mean something.
    expect(equalLoadPicks).toBeLessThan(15_000)
  })

  it('with more choices, returns the least loaded of that many distinct candidates', () => {
    const list = endpoints(new Array(10).fill(1))
    const { random, draws } = recording(5)
    const picker = build(leastRequest({ choices: 4 }), list, random)
    const context = new FakeContext()
    const load = seededRandom(6)
    for (let pick = 0; pick < 2_000; pick++) {
      for (const e of list) e.inFlight = Math.floor(load() * 6)
      const at = draws.length
      const picked = picker.pick(context) as FakeEndpoint
      // Replays the distinct draws: a repeated index is drawn again.
      const candidates: number[] = []
      for (let k = at; candidates.length < 4; k++) {
        const index = Math.floor(draws[k]! * 10)
        if (!candidates.includes(index)) candidates.push(index)
      }
      expect(candidates.map((c) => list[c])).toContain(picked)
      expect(picked.inFlight).toBe(Math.min(...candidates.map((c) => list[c]!.inFlight)))
    }
  })

  it('splits an idle set exactly by weight: within 3σ over 60,000 picks', () => {
    const weights = [1, 2, 3, 4]
    const list = endpoints(weights)
    const picker = build(leastRequest(), list, seededRandom(23))
    const context = new FakeContext()
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 60_000; i++) counts[list.indexOf(picker.pick(context) as FakeEndpoint)]!++
    for (let i = 0; i < 4; i++) {
      const p = weights[i]! / 10
      expect(Math.abs(counts[i]! - 60_000 * p)).toBeLessThan(3 * Math.sqrt(60_000 * p * (1 - p)))
    }
  })

  it('keeps in-flight proportional to weight under load', () => {
    const weights = [1, 2, 4]
    const list = endpoints(weights)
    const picker = build(leastRequest(), list, seededRandom(29))
    const context = new FakeContext()
    const completions = seededRandom(30)
    const sums = [0, 0, 0]
    for (let step = 0; step < 20_000; step++) {
      for (let k = 0; k < 3; k++) (picker.pick(context) as FakeEndpoint).inFlight++
      for (const e of list) {
        let done = 0
        for (let r = 0; r < e.inFlight; r++) if (completions() < 0.2) done++
        e.inFlight -= done
      }
      for (let i = 0; i < 3; i++) sums[i]! += list[i]!.inFlight
    }
    const perWeight = sums.map((s, i) => s / weights[i]!)
    const mean = perWeight.reduce((a, b) => a + b, 0) / 3
    for (const v of perWeight) expect(Math.abs(v - mean) / mean).toBeLessThan(0.1)
  })

  it('gives an endpoint ramping up under slow start a share in proportion to its effective weight', () => {
    const list = endpoints([1, 1, 1, 1])
    list[3]!.weight = 0.2
    const picker = build(leastRequest(), list, seededRandom(31))
    const context = new FakeContext()
    let ramping = 0
    for (let i = 0; i < 32_000; i++) if (picker.pick(context) === list[3]) ramping++
    const p = 0.2 / 3.2
    expect(Math.abs(ramping - 32_000 * p)).toBeLessThan(3 * Math.sqrt(32_000 * p * (1 - p)))
  })

  it('rejects invalid options with a message naming the option', () => {
    expect(() => leastRequest({ choices: 1 })).toThrow(RangeError)
    expect(() => leastRequest({ choices: 11 })).toThrow(
      'Expected `leastRequest.choices` to be an integer from 2 to 10, got 11',
    )
    expect(() => leastRequest({ choices: 2.5 })).toThrow(RangeError)
    expect(() => leastRequest({ choices: '2' as unknown as number })).toThrow(TypeError)
    expect(() => leastRequest({ choise: 2 } as never)).toThrow('Unknown option `leastRequest.choise`')
    expect(() => leastRequest(3 as never)).toThrow('Expected `leastRequest` to be an object, got 3')
  })
})
