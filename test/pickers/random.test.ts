import { describe, expect, it } from 'vitest'
import { randomPicker, seededRandom } from '../../src/index.ts'
import { build, endpoints, FakeContext, type FakeEndpoint } from './fakes.ts'

/** Picks `count` times and returns, per endpoint, how many standard deviations its count is off. */
function deviations(weights: number[], count: number, seed: number): number[] {
  const list = endpoints(weights)
  const picker = build(randomPicker(), list, seededRandom(seed))
  const context = new FakeContext()
  const counts = new Array<number>(weights.length).fill(0)
  for (let i = 0; i < count; i++) counts[list.indexOf(picker.pick(context) as FakeEndpoint)]!++
  const total = weights.reduce((a, b) => a + b, 0)
  return counts.map((c, i) => {
    const p = weights[i]! / total
    return Math.abs(c - count * p) / Math.sqrt(count * p * (1 - p))
  })
}

describe('random', () => {
  it('is uniform within 3σ over 60,000 picks', () => {
    for (const d of deviations([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 60_000, 11)) expect(d).toBeLessThan(3)
  })

  it('is weighted within 3σ of its weights over 60,000 picks', () => {
    for (const seed of [1, 2, 3]) {
      for (const d of deviations([1, 2, 3, 4, 10, 0.5], 60_000, seed)) expect(d).toBeLessThan(3)
    }
  })

  it('draws again, then takes the next usable endpoint, when the drawn one is skipped', () => {
    const list = endpoints([1, 1, 1, 1])
    const picker = build(randomPicker(), list, seededRandom(5))
    const context = new FakeContext()
    context.skip.add(list[0]!)
    context.skip.add(list[1]!)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 1_000; i++) counts[list.indexOf(picker.pick(context) as FakeEndpoint)]!++
    expect(counts[0]).toBe(0)
    expect(counts[1]).toBe(0)
    expect(counts[2]! + counts[3]!).toBe(1_000)
  })
})
