import { describe, expect, it } from 'vitest'
import {
  leastRequest,
  type PickerFactory,
  p2cEwma,
  randomPicker,
  roundRobin,
  seededRandom,
  weightedRoundRobin,
} from '../../src/index.ts'
import { pickerByName } from '../../src/pickers/registry.ts'
import { build, endpoints, FakeContext } from './fakes.ts'

const FACTORIES: [string, () => PickerFactory][] = [
  ['round-robin', roundRobin],
  ['weighted-round-robin', weightedRoundRobin],
  ['random', randomPicker],
  ['least-request', () => leastRequest()],
  ['least-request with 3 choices', () => leastRequest({ choices: 3 })],
  ['p2c-ewma', p2cEwma],
]

const WEIGHTS: [string, number[]][] = [
  ['equal weights', [1, 1, 1, 1, 1, 1, 1]],
  ['unequal weights', [1, 2, 3, 1, 5, 1, 2]],
]

describe.each(FACTORIES)('%s picker contract', (_name, make) => {
  it('returns undefined over no endpoints', () => {
    expect(build(make(), []).pick(new FakeContext())).toBeUndefined()
  })

  it.each(WEIGHTS)(
    'with %s, never returns a skipped or saturated endpoint, and finds a usable one whenever one exists',
    (_label, weights) => {
      const list = endpoints(weights)
      const picker = build(make(), list, seededRandom(3))
      const context = new FakeContext()
      context.maxInFlight = 3
      const random = seededRandom(99)
      const violations: string[] = []
      for (let round = 0; round < 5_000; round++) {
        context.skip.clear()
        for (const e of list) {
          e.inFlight = Math.floor(random() * 4)
          e.latency = 1 + random() * 50
          if (random() < 0.3) context.skip.add(e)
        }
        const usable = list.filter((e) => e.inFlight < 3 && !context.skip.has(e))
        const picked = picker.pick(context)
        if (usable.length === 0 ? picked !== undefined : !usable.includes(picked as (typeof list)[number]))
          violations.push(`round ${round}: picked ${picked?.endpoint.id} of ${usable.length} usable`)
      }
      expect(violations).toEqual([])
    },
  )

  it('returns the only usable endpoint when every other one is out', () => {
    const list = endpoints([1, 2, 3, 4, 5])
    const picker = build(make(), list)
    const context = new FakeContext()
    for (const e of list) context.skip.add(e)
    context.skip.delete(list[3]!)
    for (let i = 0; i < 50; i++) expect(picker.pick(context)).toBe(list[3])
  })

  it('replays the same picks under the same seed', () => {
    const run = () => {
      const list = endpoints([1, 2, 3, 1, 1])
      const picker = build(make(), list, seededRandom(42))
      const context = new FakeContext()
      const seen: number[] = []
      for (let i = 0; i < 200; i++) {
        const e = picker.pick(context) as (typeof list)[number]
        seen.push(list.indexOf(e))
        e.inFlight = (e.inFlight + 1) % 3
      }
      return seen
    }
    expect(run()).toEqual(run())
  })
})

describe('picker registry', () => {
  it.each(['round-robin', 'weighted-round-robin', 'random', 'least-request', 'p2c-ewma'] as const)(
    'builds %s by name',
    (name) => {
      expect(pickerByName(name).name).toBe(name)
    },
  )
})
