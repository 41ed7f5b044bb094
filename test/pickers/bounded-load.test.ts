import { describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer, maglev, type PickerFactory, ringHash, seededRandom } from '../../src/index.ts'
import { hashKey } from '../../src/pickers/hash.ts'
import { flush } from '../helpers/clock.ts'
import { build, type FakeEndpoint, fakeEndpoints, preference, testContext, zipf } from './hashing-helpers.ts'

const FACTOR = 1.25

/** Issue #4's bound, after the pick: the chosen endpoint's in-flight ≤ ⌈1.25 × total in-flight / N⌉. */
function bound(total: number, n: number): number {
  return Math.ceil((FACTOR * total) / n)
}

/**
 * Drives a picker with a seeded Zipf(1.1) key stream, attempts ending at random, and returns how
 * many picks broke the bound and how many went to the key's first choice.
 */
function simulate(factory: PickerFactory, n: number, picks: number): { violations: number; firstChoice: number } {
  const endpoints = fakeEndpoints(n)
  const picker = build(factory, endpoints)
  const plain = build(maglevOrRing(factory), endpoints)
  const keys = 1000
  const his = new Uint32Array(keys)
  const los = new Uint32Array(keys)
  for (let k = 0; k < keys; k++) {
    const out = { hashHi: 0, hashLo: 0 }
    hashKey(`session-${k}`, out)
    his[k] = out.hashHi
    los[k] = out.hashLo
  }
  const nextKey = zipf(keys, 1.1, 42)
  const random = seededRandom(9)
  const live: FakeEndpoint[] = []
  const context = testContext()
  let total = 0
  let violations = 0
  let firstChoice = 0
  for (let i = 0; i < picks; i++) {
    const k = nextKey()
    context.hashHi = his[k]!
    context.hashLo = los[k]!
    context.totalInFlight = total
    const chosen = picker.pick(context) as FakeEndpoint
    if (chosen === plain.pick(context)) firstChoice++
    chosen.inFlight++
    total++
    live.push(chosen)
    if (chosen.inFlight > bound(total, n)) violations++
    // Attempts end at random, so in-flight wanders between about 0 and 4 × N.
    while (live.length > 0 && random() < live.length / (4 * n + live.length)) {
      const j = Math.floor(random() * live.length)
      const done = live[j]!
      live[j] = live[live.length - 1]!
      live.pop()
      done.inFlight--
      total--
    }
  }
  return { violations, firstChoice }
}

/** The same algorithm without bounded load (first choice of each key). */
function maglevOrRing(factory: PickerFactory): PickerFactory {
  return factory.name === 'maglev' ? maglev() : ringHash()
}

describe('bounded load (balanceFactor)', () => {
  for (const [name, factory] of [
    ['ring-hash', () => ringHash({ balanceFactor: FACTOR })],
    ['maglev', () => maglev({ balanceFactor: FACTOR })],
  ] as const) {
    for (const n of [10, 100]) {
      it(`${name}: after every pick of a Zipf(1.1) key stream the chosen endpoint is within ⌈1.25 × total / N⌉ (N = ${n})`, () => {
        const { violations, firstChoice } = simulate(factory(), n, 50_000)
        expect(violations).toBe(0)
        // Some calls still land on their key's first choice (bench/hashing.ts reports the share).
        expect(firstChoice).toBeGreaterThan(0)
      })
    }

    it(`${name}: without balanceFactor the same stream breaks the bound`, () => {
      expect(simulate(maglevOrRing(factory()), 10, 50_000).violations).toBeGreaterThan(0)
    })
  }

  it('counts the new attempt: an endpoint takes it while in-flight + 1 ≤ ⌈factor × (total + 1) × weight / total weight⌉', () => {
    const endpoints = fakeEndpoints(4)
    const picker = build(maglev({ balanceFactor: 1.5 }), endpoints)
    const order = preference(picker, 'k')
    const byId = (id: string) => endpoints.find((e) => e.endpoint.id === id)!
    const first = byId(order[0]!)
    const context = testContext()
    hashKey('k', context)
    // 7 in flight, the new one makes 8: ⌈1.5 × 8 / 4⌉ = 3 slots each.
    first.inFlight = 2
    byId(order[1]!).inFlight = 5
    context.totalInFlight = 7
    expect(picker.pick(context)).toBe(first)
    first.inFlight = 3
    byId(order[1]!).inFlight = 4
    expect(picker.pick(context)?.endpoint.id).toBe(order[2])
  })

  it('gives a heavier endpoint proportionally more room', () => {
    const endpoints = fakeEndpoints(2, (i) => (i === 0 ? 3 : 1))
    const picker = build(ringHash({ balanceFactor: 1 }), endpoints)
    const context = testContext()
    // 9 in flight, the new one makes 10: weight 3 of 4 gets ⌈10 × 3 / 4⌉ = 8 slots, weight 1 gets ⌈10 / 4⌉ = 3.
    context.totalInFlight = 9
    endpoints[0]!.inFlight = 6
    endpoints[1]!.inFlight = 3
    for (let k = 0; k < 50; k++) {
      hashKey(`k${k}`, context)
      expect(picker.pick(context)).toBe(endpoints[0])
    }
    endpoints[0]!.inFlight = 8
    endpoints[1]!.inFlight = 1
    for (let k = 0; k < 50; k++) {
      hashKey(`k${k}`, context)
      expect(picker.pick(context)).toBe(endpoints[1])
    }
  })

  it('takes the least loaded usable endpoint when every usable one is over its bound', () => {
    const endpoints = fakeEndpoints(4)
    const picker = build(maglev({ balanceFactor: FACTOR }), endpoints)
    // Two endpoints are out (ejected) and idle: the other two hold everything, above ⌈1.25 × 26 / 4⌉ = 9.
    endpoints[0]!.pickable = false
    endpoints[1]!.pickable = false
    endpoints[2]!.inFlight = 13
    endpoints[3]!.inFlight = 12
    const context = testContext()
    context.totalInFlight = 25
    for (let k = 0; k < 50; k++) {
      hashKey(`k${k}`, context)
      expect(picker.pick(context)).toBe(endpoints[3])
    }
  })

  it('holds through a balancer: checked inside every attempt as it starts', async () => {
    const n = 10
    const ids = Array.from({ length: n }, (_, i) => `http://10.1.0.${i}:80`)
    const balancer = new Balancer({
      endpoints: ids,
      picker: maglev({ balanceFactor: FACTOR }),
      random: seededRandom(5),
    })
    const inFlight = new Map<string, number>(ids.map((id) => [id, 0]))
    let total = 0
    let violations = 0
    let disagreements = 0
    const pending: (() => void)[] = []
    const nextKey = zipf(500, 1.1, 7)
    const random = seededRandom(11)
    const calls: Promise<unknown>[] = []
    for (let i = 0; i < 5000; i++) {
      calls.push(
        balancer.call(
          (endpoint) => {
            total++
            const mine = inFlight.get(endpoint.id)! + 1
            inFlight.set(endpoint.id, mine)
            if (mine > bound(total, n)) violations++
            if (coreOf(balancer).inFlight !== total) disagreements++
            return new Promise<void>((resolve) =>
              pending.push(() => {
                inFlight.set(endpoint.id, inFlight.get(endpoint.id)! - 1)
                total--
                resolve()
              }),
            )
          },
          { key: `session-${nextKey()}` },
        ),
      )
      while (pending.length > 0 && random() < pending.length / (4 * n + pending.length)) {
        const j = Math.floor(random() * pending.length)
        const done = pending[j]!
        pending[j] = pending[pending.length - 1]!
        pending.pop()
        done()
        await flush(1)
      }
    }
    for (const done of pending.splice(0)) done()
    await Promise.all(calls)
    expect(violations).toBe(0)
    // The balancer's own count (what the picker reads) is the one the test checks against.
    expect(disagreements).toBe(0)
    expect(coreOf(balancer).inFlight).toBe(0)
    await balancer.close()
  })
})
