import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/index.ts'
import { encodeUtf8 } from '../../src/internal/utf8.ts'
import { hashKey } from '../../src/pickers/hash.ts'
import { xxHash64 } from '../../src/pickers/xxhash64.ts'

const out = { hashHi: 0, hashLo: 0 }

function hex(): string {
  return out.hashHi.toString(16).padStart(8, '0') + out.hashLo.toString(16).padStart(8, '0')
}

function bytesHash(bytes: Uint8Array, seed = 0n): string {
  xxHash64(bytes, out, Number(seed >> 32n), Number(seed & 0xffffffffn))
  return hex()
}

// A straightforward BigInt xxHash64 (the spec, doc/xxhash_spec.md), to cross-check every length.
const M = (1n << 64n) - 1n
const P1 = 0x9e3779b185ebca87n
const P2 = 0xc2b2ae3d27d4eb4fn
const P3 = 0x165667b19e3779f9n
const P4 = 0x85ebca77c2b2ae63n
const P5 = 0x27d4eb2f165667c5n
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M
const round = (acc: bigint, input: bigint) => (rotl((acc + input * P2) & M, 31n) * P1) & M
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1 + P4) & M) as bigint
const le = (b: Uint8Array, p: number, n: number) => {
  let x = 0n
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[p + i]!)
  return x
}
function reference(b: Uint8Array, seed = 0n): string {
  let p = 0
  let h: bigint
  if (b.length >= 32) {
    let v1 = (seed + P1 + P2) & M
    let v2 = (seed + P2) & M
    let v3 = seed
    let v4 = (seed - P1) & M
    for (; p + 32 <= b.length; p += 32) {
      v1 = round(v1, le(b, p, 8))
      v2 = round(v2, le(b, p + 8, 8))
      v3 = round(v3, le(b, p + 16, 8))
      v4 = round(v4, le(b, p + 24, 8))
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M
    h = merge(merge(merge(merge(h, v1), v2), v3), v4)
  } else {
    h = (seed + P5) & M
  }
  h = (h + BigInt(b.length)) & M
  for (; p + 8 <= b.length; p += 8) h = (rotl(h ^ round(0n, le(b, p, 8)), 27n) * P1 + P4) & M
  if (p + 4 <= b.length) {
    h = (rotl(h ^ ((le(b, p, 4) * P1) & M), 23n) * P2 + P3) & M
    p += 4
  }
  for (; p < b.length; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M), 11n) * P1) & M
  h ^= h >> 33n
  h = (h * P2) & M
  h ^= h >> 29n
  h = (h * P3) & M
  h ^= h >> 32n
  return h.toString(16).padStart(16, '0')
}

describe('xxHash64', () => {
  it('matches the published vectors of xxhsum’s sanity check', () => {
    // xxHash's `xxhsum` sanity buffer: 101 bytes from a 32-bit generator, hashed with seeds 0 and
    // PRIME32_1 over lengths 0, 1, 14 and 101 (Cyan4973/xxHash, xxhsum.c `BMK_sanityCheck`).
    const prime = 2654435761
    const buffer = new Uint8Array(101)
    let gen = prime
    for (let i = 0; i < buffer.length; i++) {
      buffer[i] = gen >>> 24
      gen = Math.imul(gen, gen) >>> 0
    }
    const vectors: [number, bigint, string][] = [
      [0, 0n, 'ef46db3751d8e999'],
      [0, BigInt(prime), 'ac75fda2929b17ef'],
      [1, 0n, '4fce394cc88952d8'],
      [1, BigInt(prime), '739840cb819fa723'],
      [14, 0n, 'cffa8db881bc3a3d'],
      [14, BigInt(prime), '5b9611585efcc9cb'],
      [101, 0n, '0eab543384f878ad'],
      [101, BigInt(prime), 'caa65939306f1e21'],
    ]
    for (const [length, seed, expected] of vectors) {
      expect(bytesHash(buffer.subarray(0, length), seed), `length ${length}, seed ${seed}`).toBe(expected)
    }
  })

  it('matches the published string vectors with seed 0', () => {
    const vectors: [string, string][] = [
      ['', 'ef46db3751d8e999'],
      ['a', 'd24ec4f1a98c6e5b'],
      ['abc', '44bc2cf5ad770999'],
      ['Nobody inspects the spammish repetition', 'fbcea83c8a378bf1'],
    ]
    for (const [key, expected] of vectors) {
      hashKey(key, out)
      expect(hex(), JSON.stringify(key)).toBe(expected)
    }
  })

  it('agrees with a BigInt implementation of the spec at every length from 0 to 200', () => {
    const random = seededRandom(7)
    for (let length = 0; length <= 200; length++) {
      const bytes = new Uint8Array(length)
      for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256)
      expect(bytesHash(bytes), `length ${length}`).toBe(reference(bytes))
      const seed = (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32))
      expect(bytesHash(bytes, seed), `length ${length}, seed ${seed}`).toBe(reference(bytes, seed))
    }
  })

  it('hashes only the first `length` bytes when given a length', () => {
    const bytes = new TextEncoder().encode('abcdef')
    xxHash64(bytes, out, 0, 0, 3)
    expect(hex()).toBe('44bc2cf5ad770999')
  })
})

describe('hashKey', () => {
  it('hashes a string as its UTF-8 bytes, like the same bytes given as a Uint8Array', () => {
    const keys = ['', 'user-42', 'café', 'ключ', '鍵', '🔑 key', 'a'.repeat(1000), 'é'.repeat(40_000)]
    const encoder = new TextEncoder()
    for (const key of keys) {
      hashKey(key, out)
      const fromString = hex()
      hashKey(encoder.encode(key), out)
      expect(fromString, key.slice(0, 20)).toBe(hex())
      expect(fromString).toBe(reference(encoder.encode(key)))
    }
  })

  it('gives the same hash after a longer key grew the scratch buffer', () => {
    hashKey('session-1', out)
    const before = hex()
    hashKey('x'.repeat(5000), out)
    hashKey('session-1', out)
    expect(hex()).toBe(before)
  })

  it('writes unsigned 32-bit halves', () => {
    const random = seededRandom(3)
    for (let i = 0; i < 1000; i++) {
      hashKey(`k${random()}`, out)
      expect(out.hashHi).toBeGreaterThanOrEqual(0)
      expect(out.hashHi).toBeLessThan(2 ** 32)
      expect(out.hashLo).toBeGreaterThanOrEqual(0)
      expect(out.hashLo).toBeLessThan(2 ** 32)
      expect(Number.isInteger(out.hashHi) && Number.isInteger(out.hashLo)).toBe(true)
    }
  })
})

describe('encodeUtf8', () => {
  it('encodes like TextEncoder, lone surrogates as U+FFFD', () => {
    const samples = [
      'plain ascii',
      'ß € 𝄞',
      '\ud800',
      'a\udc00b',
      '\ud83d\ude00\ud83d',
      '\udbff\udfff',
      '\u07ff\u0800\uffff',
      String.fromCharCode(...Array.from({ length: 512 }, (_, i) => i * 127)),
    ]
    const encoder = new TextEncoder()
    const buffer = new Uint8Array(4096)
    for (const s of samples) {
      const n = encodeUtf8(s, buffer)
      expect([...buffer.subarray(0, n)], JSON.stringify(s).slice(0, 30)).toEqual([...encoder.encode(s)])
    }
  })
})
