import { describe, expect, it } from 'vitest'
import { p2cEwma, seededRandom } from '../../src/index.ts'
import { build, distinctPair, endpoints, FakeContext, type FakeEndpoint, recording } from './fakes.ts'

/** The load a candidate carries per unit of weight: requests in flight, plus answers still counted busy, plus one. */
const requests = (e: FakeEndpoint) => (e.inFlight + 1 + e.busy) / e.weight
/** Whether two estimates are inside each other's noise band (the higher under 2 × the lower + 1 ms). */
const sameLatency = (a: FakeEndpoint, b: FakeEndpoint) => a.latency < 2 * b.latency + 1 && b.latency < 2 * a.latency + 1
/** The rule: by requests inside the noise band, by latency × requests (PeakEWMA cost) outside it. */
const worse = (a: FakeEndpoint, b: FakeEndpoint) =>
  sameLatency(a, b) ? requests(a) > requests(b) : a.latency * requests(a) > b.latency * requests(b)

describe('p2c-ewma picker', () => {
  it('never returns the worse of its two candidates: fewer requests within the noise band, lower cost outside it (checked on every pick)', () => {
    const list = endpoints([1, 1, 2, 1, 3, 1, 1, 1, 1, 1])
    const { random, draws } = recording(41)
    const picker = build(p2cEwma(), list, random)
    const context = new FakeContext()
    const load = seededRandom(42)
    const violations: string[] = []
    let inBand = 0
    for (let pick = 0; pick < 20_000; pick++) {
      for (const e of list) {
        e.latency = 1 + load() * 20
        e.inFlight = Math.floor(load() * 4)
        e.busy = load() < 0.1 ? load() : 0
      }
      const at = draws.length
      const picked = picker.pick(context) as FakeEndpoint
      const [i, j] = distinctPair(draws[at]!, draws[at + 1]!, list.length)
      const other = picked === list[i] ? list[j]! : list[i]!
      if (sameLatency(picked, other)) inBand++
      if (picked !== list[i] && picked !== list[j]) violations.push(`pick ${pick}: not a candidate`)
      else if (worse(picked, other))
        violations.push(`pick ${pick}: ${picked.latency}/${picked.inFlight} over ${other.latency}/${other.inFlight}`)
    }
    expect(violations).toEqual([])
    // Both rules were exercised.
    expect(inBand).toBeGreaterThan(5_000)
    expect(inBand).toBeLessThan(15_000)
  })

  it('within the noise band, takes the one with fewer requests in flight even if its estimate is higher, and splits ties evenly', () => {
    const [a, b] = endpoints([1, 1]) as [FakeEndpoint, FakeEndpoint]
    const picker = build(p2cEwma(), [a, b], seededRandom(3))
    const context = new FakeContext()
    a.latency = 10
    b.latency = 19
    a.inFlight = 2
    b.inFlight = 1
    // PeakEWMA cost would say a (30 < 38); 19 ms is inside 2 × 10 + 1: fewer in flight wins.
    for (let k = 0; k < 20; k++) expect(picker.pick(context)).toBe(b)
    // An answer still counted busy is a request in flight.
    b.busy = 1.5
    for (let k = 0; k < 20; k++) expect(picker.pick(context)).toBe(a)
    b.busy = 0
    // Equal in flight, one call at a time: a coin toss, whatever the estimates inside the band.
    a.inFlight = 0
    b.inFlight = 0
    let first = 0
    for (let k = 0; k < 10_000; k++) if (picker.pick(context) === a) first++
    expect(Math.abs(first - 5_000)).toBeLessThan(3 * Math.sqrt(2_500))
    // Sub-millisecond: 0.2 ms and 1.1 ms are inside the band's 1 ms floor.
    a.latency = 0.2
    b.latency = 1.1
    first = 0
    for (let k = 0; k < 10_000; k++) if (picker.pick(context) === a) first++
    expect(Math.abs(first - 5_000)).toBeLessThan(3 * Math.sqrt(2_500))
  })

  it('outside the noise band, ranks by latency × (in-flight + 1)', () => {
    const [a, b] = endpoints([1, 1]) as [FakeEndpoint, FakeEndpoint]
    const picker = build(p2cEwma(), [a, b], seededRandom(5))
    const context = new FakeContext()
    a.latency = 10
    b.latency = 25
    for (let k = 0; k < 20; k++) expect(picker.pick(context)).toBe(a)
    // 10 × 3 = 30 > 25 × 1: the slower, idle one.
    a.inFlight = 2
    for (let k = 0; k < 20; k++) expect(picker.pick(context)).toBe(b)
    // A failing endpoint's busy answers count in the cost too.
    a.inFlight = 0
    a.busy = 2
    for (let k = 0; k < 20; k++) expect(picker.pick(context)).toBe(b)
  })

  it('reads latency at the time the balancer passes in, never from a clock of its own', () => {
    const list = endpoints([1, 1, 1])
    const seen = new Set<number>()
    for (const e of list) {
      e.latencyMs = (now: number) => {
        seen.add(now)
        return 10
      }
    }
    const picker = build(p2cEwma(), list)
    const context = new FakeContext()
    for (const now of [5, 17, 99]) {
      context.now = now
      picker.pick(context)
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([5, 17, 99])
  })

  it('compares the usable candidate with one fresh draw when the other is skipped', () => {
    const list = endpoints([1, 1, 1, 1])
    list[0]!.latency = 1
    for (const e of list.slice(1)) e.latency = 50
    const context = new FakeContext()
    // The cheapest endpoint was already tried by this call: the retry goes to one of the others,
    // never back to it, and is spread over them.
    context.skip.add(list[0]!)
    const picker = build(p2cEwma(), list, seededRandom(8))
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 3_000; i++) counts[list.indexOf(picker.pick(context) as FakeEndpoint)]!++
    expect(counts[0]).toBe(0)
    for (const c of counts.slice(1)) expect(c).toBeGreaterThan(800)
  })

  it('divides the cost by the weight: an endpoint of weight 3 wins until it holds three times the load', () => {
    const list = endpoints([3, 1])
    const picker = build(p2cEwma(), list)
    const context = new FakeContext()
    list[1]!.inFlight = 0
    for (const [inFlight, winner] of [
      [0, 0],
      [1, 0],
      [3, 1],
      [5, 1],
    ] as const) {
      list[0]!.inFlight = inFlight
      for (let i = 0; i < 10; i++) expect(picker.pick(context)).toBe(list[winner])
    }
  })
})
