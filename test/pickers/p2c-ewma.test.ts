import { describe, expect, it } from 'vitest'
import { p2cEwma, seededRandom } from '../../src/index.ts'
import { build, distinctPair, endpoints, FakeContext, type FakeEndpoint, recording } from './fakes.ts'

const cost = (e: FakeEndpoint) => (e.latency * (e.inFlight + 1)) / e.weight

describe('p2c-ewma picker', () => {
  it('never returns the costlier of its two candidates, latency × (in-flight + 1) ÷ weight (checked on every pick)', () => {
    const list = endpoints([1, 1, 2, 1, 3, 1, 1, 1, 1, 1])
    const { random, draws } = recording(41)
    const picker = build(p2cEwma(), list, random)
    const context = new FakeContext()
    const load = seededRandom(42)
    const violations: string[] = []
    for (let pick = 0; pick < 20_000; pick++) {
      for (const e of list) {
        e.latency = 1 + load() * 20
        e.inFlight = Math.floor(load() * 4)
      }
      const at = draws.length
      const picked = picker.pick(context) as FakeEndpoint
      const [i, j] = distinctPair(draws[at]!, draws[at + 1]!, list.length)
      const other = picked === list[i] ? list[j]! : list[i]!
      if (picked !== list[i] && picked !== list[j]) violations.push(`pick ${pick}: not a candidate`)
      else if (cost(picked) > cost(other)) violations.push(`pick ${pick}: ${cost(picked)} > ${cost(other)}`)
    }
    expect(violations).toEqual([])
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
