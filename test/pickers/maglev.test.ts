import { describe, expect, it } from 'vitest'
import { maglev } from '../../src/index.ts'
import { hashKey } from '../../src/pickers/hash.ts'
import type { HashPicker } from '../../src/pickers/hash-picker.ts'
import { isPrime, maglevTableSize, nextPrime } from '../../src/pickers/maglev.ts'
import {
  build,
  type FakeEndpoint,
  fakeEndpoints,
  keyHashes,
  mapKeys,
  preference,
  shuffled,
  testContext,
  type Warning,
} from './hashing-helpers.ts'

const KEYS = keyHashes(100_000)

/** Slots each endpoint holds, by `FakeEndpoint.index` (the table holds positions in id order). */
function slotsPerEndpoint(picker: unknown, n: number): number[] {
  const { table, endpoints } = picker as HashPicker
  const counts = new Array<number>(n).fill(0)
  for (const i of table) counts[(endpoints[i] as FakeEndpoint).index]!++
  return counts
}

describe('maglev', () => {
  it('maps every key to the same endpoint whatever order the endpoints come in', () => {
    const endpoints = fakeEndpoints(50, (i) => 1 + (i % 3))
    const base = mapKeys(build(maglev(), endpoints), KEYS)
    for (const seed of [1, 2, 3]) {
      expect(mapKeys(build(maglev(), shuffled(endpoints, seed)), KEYS)).toEqual(base)
    }
  })

  for (const n of [10, 100]) {
    it(`on removing any one of ${n} endpoints moves all its keys and, on average, at most twice the optimal share; adding it back restores the mapping`, () => {
      const endpoints = fakeEndpoints(n)
      const base = mapKeys(build(maglev(), endpoints), KEYS)
      let moved = 0
      for (let r = 0; r < n; r++) {
        const rest = endpoints.filter((e) => e.index !== r)
        const after = mapKeys(build(maglev(), rest), KEYS)
        let stayed = 0
        for (let k = 0; k < KEYS.hi.length; k++) {
          if (after[k] !== base[k]) moved++
          else if (base[k] === r) stayed++
        }
        expect(stayed, `keys of endpoint ${r} still mapped to it`).toBe(0)
        if (r % 25 === 0) expect(mapKeys(build(maglev(), [endpoints[r]!, ...rest]), KEYS)).toEqual(base)
      }
      // Maglev trades a little disruption for balance (Eisenbud et al. §3.4): a rebuilt table also
      // shifts some slots between the endpoints that stayed.
      const averageShare = moved / n / KEYS.hi.length
      expect(averageShare / (1 / n)).toBeLessThanOrEqual(2)
    })
  }

  it('sends an ejected endpoint’s keys to their next choice and back when it is restored, moving nothing else', () => {
    const endpoints = fakeEndpoints(20)
    const picker = build(maglev(), endpoints)
    const base = mapKeys(picker, KEYS)
    for (const r of [0, 7, 19]) {
      endpoints[r]!.pickable = false
      const during = mapKeys(picker, KEYS)
      let wrong = 0
      let movedOwn = 0
      for (let k = 0; k < KEYS.hi.length; k++) {
        if (base[k] === r) {
          if (during[k] === r || during[k] === -1) wrong++
          else movedOwn++
        } else if (during[k] !== base[k]) wrong++
      }
      expect(wrong).toBe(0)
      expect(movedOwn).toBeGreaterThan(0)
      endpoints[r]!.pickable = true
      expect(mapKeys(picker, KEYS)).toEqual(base)
    }
  })

  it('keeps keys per endpoint within 7% of the mean at 100 endpoints over 1,000,000 keys', () => {
    const endpoints = fakeEndpoints(100)
    const picker = build(maglev(), endpoints)
    const context = testContext()
    const counts = new Array<number>(100).fill(0)
    for (let k = 0; k < 1_000_000; k++) {
      hashKey(`key-${k}`, context)
      counts[(picker.pick(context) as FakeEndpoint).index]!++
    }
    expect(Math.max(...counts) / 10_000).toBeLessThanOrEqual(1.07)
  })

  it('gives equal endpoints slot counts within one of each other, and weighted ones slots in proportion', () => {
    const equal = slotsPerEndpoint(build(maglev(), fakeEndpoints(100)), 100)
    expect(Math.max(...equal) - Math.min(...equal)).toBeLessThanOrEqual(1)
    expect(equal.reduce((a, b) => a + b, 0)).toBe(65_537)
    const weighted = slotsPerEndpoint(
      build(
        maglev(),
        fakeEndpoints(40, (i) => (i < 20 ? 1 : 3)),
      ),
      40,
    )
    const light = weighted.slice(0, 20).reduce((a, b) => a + b, 0)
    const heavy = weighted.slice(20).reduce((a, b) => a + b, 0)
    expect(heavy / light).toBeCloseTo(3, 2)
    // A tiny weight still gets a slot.
    const skewed = slotsPerEndpoint(
      build(
        maglev(),
        fakeEndpoints(3, (i) => (i === 0 ? 1 : 65_535)),
      ),
      3,
    )
    expect(skewed[0]).toBeGreaterThanOrEqual(1)
  })

  it('starts a key at slot h mod M of its 64-bit hash (checked against BigInt)', () => {
    const picker = build(maglev(), fakeEndpoints(30)) as HashPicker
    const context = testContext()
    for (let k = 0; k < 20_000; k++) {
      hashKey(`key-${k}`, context)
      const h = (BigInt(context.hashHi) << 32n) | BigInt(context.hashLo)
      const slot = Number(h % BigInt(picker.table.length))
      expect(picker.pick(context)).toBe(picker.endpoints[picker.table[slot]!])
    }
  })

  it('walks slots (h + i) mod M: each key’s preference order lists every endpoint once', () => {
    const picker = build(maglev(), fakeEndpoints(12))
    for (let k = 0; k < 200; k++) {
      const order = preference(picker, `user-${k}`)
      expect(new Set(order).size).toBe(12)
    }
    expect(build(maglev(), []).pick(testContext())).toBeUndefined()
  })

  it('grows the table to the next prime above 100 × endpoints with one warning per growth', () => {
    expect(maglevTableSize(65_537, 655)).toBe(65_537)
    const size = maglevTableSize(65_537, 700)
    expect(size).toBe(nextPrime(70_000))
    expect(isPrime(size) && size > 70_000).toBe(true)
    for (let p = 70_001; p < size; p++) expect(isPrime(p)).toBe(false)

    const warnings: Warning[] = []
    const grown = build(maglev(), fakeEndpoints(700), warnings)
    expect((grown as HashPicker).table.length).toBe(size)
    expect(warnings.map((w) => w.code)).toEqual(['KEEL_MAGLEV_TABLE_GROWN'])
    expect(warnings[0]!.message).toContain(`${size} slots`)
    const again = build(maglev(), fakeEndpoints(700), warnings, grown)
    expect(warnings).toHaveLength(1)
    build(maglev(), fakeEndpoints(800), warnings, again)
    expect(warnings).toHaveLength(2)
    const small = build(maglev(), fakeEndpoints(600), warnings, again)
    expect((small as HashPicker).table.length).toBe(65_537)
    expect(warnings).toHaveLength(2)
    // A small configured table grows too.
    expect((build(maglev({ tableSize: 101 }), fakeEndpoints(3)) as HashPicker).table.length).toBe(307)
  })

  it('rejects invalid options with a message naming the option', () => {
    expect(() => maglev({ tableSize: 65_536 })).toThrow('Expected `maglev.tableSize` to be a prime number, got 65536')
    expect(() => maglev({ tableSize: 5_000_012 })).toThrow(
      'Expected `maglev.tableSize` to be an integer from 2 to 5000011, got 5000012',
    )
    expect(() => maglev({ balanceFactor: 0 })).toThrow('Expected `maglev.balanceFactor` to be a number ≥ 1, got 0')
    expect(() => maglev({ tablesize: 7 } as never)).toThrow(
      'Unknown option `maglev.tablesize` (did you mean `maglev.tableSize`?)',
    )
    const factory = maglev({ tableSize: 5_000_011 })
    expect([factory.name, factory.scope, factory.keyed, factory.slowStart]).toEqual(['maglev', 'members', true, false])
  })
})
