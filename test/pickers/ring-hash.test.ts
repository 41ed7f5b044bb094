import { describe, expect, it } from 'vitest'
import { ringHash } from '../../src/index.ts'
import { hashKey } from '../../src/pickers/hash.ts'
import type { HashPicker } from '../../src/pickers/hash-picker.ts'
import {
  build,
  fakeEndpoints,
  keyHashes,
  mapKeys,
  preference,
  shuffled,
  testContext,
  type Warning,
} from './hashing-helpers.ts'

const KEYS = keyHashes(100_000)

function tableSize(picker: unknown): number {
  return (picker as HashPicker).table.length
}

describe('ring-hash', () => {
  it('maps every key to the same endpoint whatever order the endpoints come in', () => {
    const endpoints = fakeEndpoints(50, (i) => 1 + (i % 3))
    const base = mapKeys(build(ringHash(), endpoints), KEYS)
    for (const seed of [1, 2, 3]) {
      expect(mapKeys(build(ringHash(), shuffled(endpoints, seed)), KEYS)).toEqual(base)
    }
  })

  for (const n of [10, 100]) {
    it(`on removing any one of ${n} endpoints moves only its keys (the optimal share), and adding it back restores the mapping`, () => {
      const endpoints = fakeEndpoints(n)
      const base = mapKeys(build(ringHash(), endpoints), KEYS)
      let moved = 0
      for (let r = 0; r < n; r++) {
        const rest = endpoints.filter((e) => e.index !== r)
        const after = mapKeys(build(ringHash(), rest), KEYS)
        let foreign = 0
        for (let k = 0; k < KEYS.hi.length; k++) {
          if (after[k] === base[k]) continue
          moved++
          if (base[k] !== r) foreign++
        }
        expect(foreign, `keys of other endpoints moved when endpoint ${r} left`).toBe(0)
        // Adding it back, at the front this time, gives the original ring.
        if (r % 25 === 0) expect(mapKeys(build(ringHash(), [endpoints[r]!, ...rest]), KEYS)).toEqual(base)
      }
      const averageShare = moved / n / KEYS.hi.length
      expect(averageShare / (1 / n)).toBeLessThanOrEqual(1.05)
    })
  }

  it('sends an ejected endpoint’s keys to their next choice and back when it is restored', () => {
    const endpoints = fakeEndpoints(20)
    const picker = build(ringHash(), endpoints)
    const base = mapKeys(picker, KEYS)
    for (const r of [0, 7, 19]) {
      endpoints[r]!.pickable = false
      const during = mapKeys(picker, KEYS)
      let wrong = 0
      for (let k = 0; k < KEYS.hi.length; k++) {
        if (base[k] === r ? during[k] === r : during[k] !== base[k]) wrong++
      }
      expect(wrong).toBe(0)
      // The ejected endpoint's keys land where removing it would put them.
      expect(during).toEqual(
        mapKeys(
          build(
            ringHash(),
            endpoints.filter((e) => e.index !== r),
          ),
          KEYS,
        ),
      )
      endpoints[r]!.pickable = true
      expect(mapKeys(picker, KEYS)).toEqual(base)
    }
  })

  it('gives a key to the first ring point at or after its hash, wrapping past the last', () => {
    const picker = build(ringHash(), fakeEndpoints(10)) as HashPicker & { points: Float64Array }
    const points = [...picker.points]
    const context = testContext()
    for (let k = 0; k < 5000; k++) {
      hashKey(`key-${k}`, context)
      // The top 53 bits of the 64-bit hash, as the ring stores its points.
      const key = context.hashHi * 2 ** 21 + Math.floor(context.hashLo / 2 ** 11)
      const found = points.findIndex((p) => p >= key)
      expect(picker.pick(context)).toBe(picker.endpoints[picker.table[found === -1 ? 0 : found]!])
    }
    // A hash past the last point wraps to the first.
    context.hashHi = 0xffffffff
    context.hashLo = 0xffffffff
    expect(picker.pick(context)).toBe(picker.endpoints[picker.table[0]!])
  })

  it('walks clockwise through distinct endpoints: each key’s preference order lists every endpoint once', () => {
    const endpoints = fakeEndpoints(12)
    const picker = build(ringHash(), endpoints)
    for (let k = 0; k < 200; k++) {
      const order = preference(picker, `user-${k}`)
      expect(order).toHaveLength(12)
      expect(new Set(order).size).toBe(12)
    }
  })

  it('passes over an endpoint at its in-flight cap, and returns nothing when none is usable', () => {
    const endpoints = fakeEndpoints(5)
    const picker = build(ringHash(), endpoints)
    const order = preference(picker, 'user-7')
    const first = endpoints.find((e) => e.endpoint.id === order[0])!
    const context = testContext()
    hashKey('user-7', context)
    context.maxInFlight = 3
    first.inFlight = 3
    expect(picker.pick(context)?.endpoint.id).toBe(order[1])
    for (const e of endpoints) e.pickable = false
    expect(picker.pick(context)).toBeUndefined()
    expect(build(ringHash(), []).pick(context)).toBeUndefined()
  })

  it('gives each endpoint 160 points per unit of weight', () => {
    expect(tableSize(build(ringHash(), fakeEndpoints(10)))).toBe(1600)
    expect(
      tableSize(
        build(
          ringHash(),
          fakeEndpoints(10, (i) => i + 1),
        ),
      ),
    ).toBe(160 * 55)
  })

  it('follows weights: a weight-3 endpoint takes about three times the keys of a weight-1 one', () => {
    const endpoints = fakeEndpoints(40, (i) => (i < 20 ? 1 : 3))
    const mapping = mapKeys(build(ringHash(), endpoints), KEYS)
    let light = 0
    let heavy = 0
    for (const i of mapping) {
      if (i < 20) light++
      else heavy++
    }
    expect(heavy / light).toBeGreaterThan(2.7)
    expect(heavy / light).toBeLessThan(3.3)
  })

  it('grows a tiny fleet’s ring to minRingSize, unless told otherwise', () => {
    expect(tableSize(build(ringHash(), fakeEndpoints(2)))).toBe(1024)
    expect(tableSize(build(ringHash({ minRingSize: 1 }), fakeEndpoints(2)))).toBe(320)
    expect(tableSize(build(ringHash({ minRingSize: 4000 }), fakeEndpoints(10)))).toBe(4000)
  })

  it('caps the ring at maxRingSize with one warning per change of size', () => {
    const warnings: Warning[] = []
    const first = build(ringHash({ minRingSize: 1, maxRingSize: 1000 }), fakeEndpoints(10), warnings)
    expect(tableSize(first)).toBe(1000)
    expect(warnings.map((w) => w.code)).toEqual(['KEEL_RING_SIZE_CAPPED'])
    expect(warnings[0]!.message).toContain('`maxRingSize` (1000)')
    build(ringHash({ minRingSize: 1, maxRingSize: 1000 }), fakeEndpoints(10), warnings, first)
    expect(warnings).toHaveLength(1)
  })

  it('rejects invalid options with a message naming the option', () => {
    expect(() => ringHash({ minRingSize: 0 })).toThrow(
      'Expected `ringHash.minRingSize` to be an integer from 1 to 8388608, got 0',
    )
    expect(() => ringHash({ maxRingSize: 9_000_000 })).toThrow(RangeError)
    expect(() => ringHash({ minRingSize: 2048, maxRingSize: 1024 })).toThrow(
      'Expected `ringHash.maxRingSize` to be at least `ringHash.minRingSize` (2048), got 1024',
    )
    expect(() => ringHash({ balanceFactor: 0.9 })).toThrow(
      'Expected `ringHash.balanceFactor` to be a number ≥ 1, got 0.9',
    )
    expect(() => ringHash({ balanceFactor: '1.25' as unknown as number })).toThrow(TypeError)
    expect(() => ringHash({ minRingsize: 1 } as never)).toThrow(
      'Unknown option `ringHash.minRingsize` (did you mean `ringHash.minRingSize`?)',
    )
    const factory = ringHash()
    expect([factory.name, factory.scope, factory.keyed, factory.slowStart]).toEqual([
      'ring-hash',
      'members',
      true,
      false,
    ])
  })
})
