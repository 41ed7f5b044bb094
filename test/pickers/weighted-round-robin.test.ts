import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Picker, seededRandom, weightedRoundRobin } from '../../src/index.ts'
import { SmoothWeightedPicker } from '../../src/pickers/smooth-weighted.ts'
import { WeightedTablePicker } from '../../src/pickers/weighted-table.ts'
import { build, endpoints, FakeContext, type FakeEndpoint } from './fakes.ts'

/** Indices of `count` picks. */
function sequence(picker: Picker, list: FakeEndpoint[], count: number, context = new FakeContext()): number[] {
  const out: number[] = []
  for (let i = 0; i < count; i++) out.push(list.indexOf(picker.pick(context) as FakeEndpoint))
  return out
}

/** Windows of `cycle` consecutive picks (every start position) whose counts differ from `weights`. */
function badWindows(seq: readonly number[], weights: readonly number[], cycle: number): number[] {
  const bad: number[] = []
  const counts = new Array<number>(weights.length).fill(0)
  for (let i = 0; i < seq.length; i++) {
    counts[seq[i]!]!++
    if (i >= cycle) counts[seq[i - cycle]!]!--
    if (i >= cycle - 1 && counts.some((c, k) => c !== weights[k])) bad.push(i - cycle + 1)
  }
  return bad
}

/** The longest run of one endpoint, per endpoint. */
function longestRuns(seq: readonly number[], n: number): number[] {
  const longest = new Array<number>(n).fill(0)
  let run = 0
  for (let i = 0; i < seq.length; i++) {
    run = i > 0 && seq[i] === seq[i - 1] ? run + 1 : 1
    if (run > longest[seq[i]!]!) longest[seq[i]!] = run
  }
  return longest
}

describe('weighted-round-robin', () => {
  it('gives weights 1:2:3 exact 1:2:3 counts over every whole cycle and never one endpoint more than its weight in a row', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const list = endpoints([1, 2, 3])
      const seq = sequence(build(weightedRoundRobin(), list, seededRandom(seed)), list, 6_000)
      expect(badWindows(seq, [1, 2, 3], 6)).toEqual([])
      const runs = longestRuns(seq, 3)
      expect(runs[0]).toBeLessThanOrEqual(1)
      expect(runs[1]).toBeLessThanOrEqual(2)
      expect(runs[2]).toBeLessThanOrEqual(3)
    }
  })

  it("interleaves 1:2:3 as nginx's smooth weighted round-robin does (c b a c b c)", () => {
    const list = endpoints([1, 2, 3])
    const seq = sequence(build(weightedRoundRobin(), list, seededRandom(7)), list, 12)
      .map((i) => 'abc'[i])
      .join('')
    // The cycle is nginx's, entered at a random offset.
    expect('cbacbccbacbccbacbc').toContain(seq)
  })

  it('keeps exact counts per cycle and runs no longer than the weight for any integer weights', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 7 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (weights, seed) => {
          const list = endpoints(weights)
          const cycle = weights.reduce((a, b) => a + b, 0)
          const seq = sequence(build(weightedRoundRobin(), list, seededRandom(seed)), list, cycle * 6)
          if (badWindows(seq, weights, cycle).length > 0) return false
          return longestRuns(seq, weights.length).every((run, i) => run <= weights[i]!)
        },
      ),
      { seed: 20260101, numRuns: 300 },
    )
  })

  it('stays exact when its virtual clock is shifted back after 2^20 time units', () => {
    const list = endpoints([1, 2, 3])
    const picker = new SmoothWeightedPicker(list, undefined, 0)
    const context = new FakeContext()
    // 6 picks advance virtual time by one unit: run past 2^20 units and check the cycles around it.
    for (let i = 0; i < 6 * 2 ** 20 - 600; i++) picker.pick(context)
    const seq = sequence(picker, list, 1_200, context)
    expect(badWindows(seq, [1, 2, 3], 6)).toEqual([])
  })

  it('rotates in order when the weights are equal, from a random start', () => {
    const starts = new Set<number>()
    for (let seed = 1; seed <= 20; seed++) {
      const list = endpoints([2, 2, 2, 2, 2])
      const seq = sequence(build(weightedRoundRobin(), list, seededRandom(seed)), list, 25)
      for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe((seq[i - 1]! + 1) % 5)
      starts.add(seq[0]!)
    }
    expect(starts.size).toBeGreaterThan(2)
  })

  it('passes over a skipped endpoint, which loses that turn and does not make it up later', () => {
    const list = endpoints([1, 1, 4])
    const picker = build(weightedRoundRobin(), list)
    const context = new FakeContext()
    // The heavy endpoint is at its cap for a while: the others alternate meanwhile.
    list[2]!.inFlight = 5
    context.maxInFlight = 5
    const during = sequence(picker, list, 40, context)
    expect(during.filter((i) => i === 2)).toEqual([])
    list[2]!.inFlight = 0
    // Freed, it gets its share again at once, without a burst to make up for the turns it lost.
    const after = sequence(picker, list, 60, context)
    expect(badWindows(after, [1, 1, 4], 6)).toEqual([])
    expect(longestRuns(after, 3)[2]).toBeLessThanOrEqual(4)
  })

  it('resumes at the same next endpoint after a rebuild', () => {
    const list = endpoints([1, 2, 3, 4])
    const factory = weightedRoundRobin()
    const context = new FakeContext()
    const first = build(factory, list, seededRandom(5))
    sequence(first, list, 7, context)
    const next = (first as WeightedTablePicker).nextEndpoint()
    // An endpoint other than the next one leaves: the new schedule starts at that same endpoint.
    const kept = list.filter((e) => e === next || e !== list[0])
    const second = build(factory, kept, seededRandom(6), first)
    expect(second.pick(context)).toBe(next)
  })

  it('on the heap (fractional weights), keeps each endpoint’s place in the schedule across a rebuild', () => {
    const list = endpoints([1.5, 2.5, 3.5, 4.5])
    const factory = weightedRoundRobin()
    const context = new FakeContext()
    const first = build(factory, list, seededRandom(5))
    expect(first).toBeInstanceOf(SmoothWeightedPicker)
    sequence(first, list, 7, context)
    // Endpoint 0 leaves: the others continue their schedule where it stood.
    const control = build(factory, list, seededRandom(5))
    sequence(control, list, 7, context)
    const second = build(factory, list.slice(1), seededRandom(5), first)
    const after = sequence(second, list.slice(1), 18, context).map((i) => i + 1)
    const expected = sequence(control, list, 30, context)
      .filter((i) => i !== 0)
      .slice(0, 18)
    expect(after).toEqual(expected)
  })

  it('tabulates integer weights into the same sequence the heap schedule gives', () => {
    const weights = [3, 1, 4, 1, 5, 9, 2, 6]
    const list = endpoints(weights)
    const table = new WeightedTablePicker(list, 31, undefined, 0)
    const heap = new SmoothWeightedPicker(list, undefined, 0)
    expect(sequence(table, list, 93)).toEqual(sequence(heap, list, 93))
  })

  it('uses the heap when the weights sum past 16,384 or are fractional', () => {
    expect(build(weightedRoundRobin(), endpoints([16_000, 385]))).toBeInstanceOf(SmoothWeightedPicker)
    expect(build(weightedRoundRobin(), endpoints([16_000, 384]))).toBeInstanceOf(WeightedTablePicker)
    expect(build(weightedRoundRobin(), endpoints([1, 0.5]))).toBeInstanceOf(SmoothWeightedPicker)
  })

  it('follows fractional effective weights in proportion (slow start)', () => {
    const list = endpoints([1, 1, 1])
    list[2]!.weight = 0.25
    const seq = sequence(build(weightedRoundRobin(), list, seededRandom(2)), list, 9_000)
    const share = seq.filter((i) => i === 2).length / seq.length
    expect(share).toBeCloseTo(0.25 / 2.25, 3)
  })
})
