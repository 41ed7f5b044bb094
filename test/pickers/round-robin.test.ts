import { describe, expect, it } from 'vitest'
import { roundRobin, seededRandom } from '../../src/index.ts'
import { RoundRobinPicker } from '../../src/pickers/round-robin.ts'
import type { SmoothWeightedPicker } from '../../src/pickers/smooth-weighted.ts'
import { WeightedTablePicker } from '../../src/pickers/weighted-table.ts'
import { build, endpoints, FakeContext, type FakeEndpoint } from './fakes.ts'

describe('round-robin', () => {
  it('takes every endpoint once per round, in order, from a start that differs between clients', () => {
    const starts = new Set<number>()
    for (let seed = 1; seed <= 16; seed++) {
      const list = endpoints([1, 1, 1, 1, 1, 1])
      const picker = build(roundRobin(), list, seededRandom(seed))
      const context = new FakeContext()
      const first = list.indexOf(picker.pick(context) as FakeEndpoint)
      starts.add(first)
      for (let i = 1; i < 60; i++) expect(picker.pick(context)).toBe(list[(first + i) % 6])
    }
    expect(starts.size).toBeGreaterThan(3)
  })

  it('continues with the same next endpoint after a rebuild, wherever it moved in the list', () => {
    const list = endpoints([1, 1, 1, 1, 1])
    const factory = roundRobin()
    const context = new FakeContext()
    const first = build(factory, list, seededRandom(3))
    const picked = [first.pick(context), first.pick(context)]
    const next = list[(list.indexOf(picked[1] as FakeEndpoint) + 1) % 5]!
    // Another endpoint leaves and one joins at the front: the rotation resumes at `next`.
    const others = list.filter((e) => e !== next && !picked.includes(e))
    const rebuilt = [endpoints([1, 1, 1, 1, 1, 1])[5]!, ...others.slice(1), next, ...picked]
    const second = build(factory, rebuilt as FakeEndpoint[], seededRandom(3), first)
    expect(second.pick(context)).toBe(next)
  })

  it('passes over a skipped or saturated endpoint and returns undefined when all are out', () => {
    const list = endpoints([1, 1, 1])
    const picker = build(roundRobin(), list, seededRandom(1))
    const context = new FakeContext()
    context.skip.add(list[1]!)
    const seen = new Set([picker.pick(context), picker.pick(context), picker.pick(context), picker.pick(context)])
    expect(seen.has(list[1])).toBe(false)
    context.maxInFlight = 1
    list[0]!.inFlight = 1
    list[2]!.inFlight = 1
    expect(picker.pick(context)).toBeUndefined()
  })

  it('is weighted when effective weights differ, as Envoy’s ROUND_ROBIN is', () => {
    const list = endpoints([1, 1, 2])
    const picker = build(roundRobin(), list, seededRandom(4))
    expect(picker).toBeInstanceOf(WeightedTablePicker)
    const context = new FakeContext()
    const counts = [0, 0, 0]
    for (let i = 0; i < 400; i++) counts[list.indexOf(picker.pick(context) as FakeEndpoint)]!++
    expect(counts).toEqual([100, 100, 200])
  })

  it('goes back to plain rotation, at the weighted schedule’s next endpoint, once weights are equal again', () => {
    const list = endpoints([1, 1, 1, 1])
    list[2]!.weight = 0.5
    const factory = roundRobin()
    const context = new FakeContext()
    const weighted = build(factory, list, seededRandom(9))
    for (let i = 0; i < 5; i++) weighted.pick(context)
    const next = (weighted as SmoothWeightedPicker).nextEndpoint()
    list[2]!.weight = 1
    const plain = build(factory, list, seededRandom(9), weighted)
    expect(plain).toBeInstanceOf(RoundRobinPicker)
    expect(plain.pick(context)).toBe(next)
  })
})
