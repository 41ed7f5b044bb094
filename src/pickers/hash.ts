import { encodeUtf8 } from '../internal/utf8.ts'

/**
 * xxHash64 (Yann Collet, https://github.com/Cyan4973/xxHash, `doc/xxhash_spec.md`) in 32-bit
 * limbs: every 64-bit value is a pair of unsigned 32-bit numbers, so hashing a key never touches
 * BigInt or allocates.
 *
 * Why xxHash64: it is the hash Envoy uses for ring hash and Maglev (and gRPC A42 for ring hash),
 * it mixes well, and its published test vectors pin an implementation down exactly.
 */

/** Where `hashKey` writes a key's 64-bit hash, as two unsigned 32-bit halves. */
export interface HashOut {
  hashHi: number
  hashLo: number
}

// The five 64-bit primes of xxHash64 as (high, low) halves, each a signed int32: every value
// here stays a small integer, never a boxed double, across calls V8 does not inline.
const P1H = 0x9e3779b1 | 0
const P1L = 0x85ebca87 | 0
const P2H = 0xc2b2ae3d | 0
const P2L = 0x27d4eb4f | 0
const P3H = 0x165667b1 | 0
const P3L = 0x9e3779f9 | 0
const P4H = 0x85ebca77 | 0
const P4L = 0xc2b2ae63 | 0
const P5H = 0x27d4eb2f | 0
const P5L = 0x165667c5 | 0
// 2^64 - P1 (the initial v4 is seed - P1); P1L ≠ 0, so no borrow reaches the high half.
const NEG_P1H = ~P1H
const NEG_P1L = (~P1L + 1) | 0

// The result of the last 64-bit operation: R[0] high, R[1] low (module scratch, so no tuple is
// ever allocated).
const R = new Int32Array(2)

/**
 * The high word of the unsigned 64-bit product a × b (a, b < 2^32). The double product is within
 * 2^11 of the exact one and `imul` gives the exact low word, so (product − low) ÷ 2^32 lies
 * within 2^-20 of the high word: rounding it is exact. The result is the int32 view.
 */
function mulHi(a: number, b: number): number {
  const lo = Math.imul(a, b) >>> 0
  return (((a >>> 0) * (b >>> 0) - lo) / 4294967296 + 0.5) | 0
}

/** (ah, al) × (bh, bl) mod 2^64 into R. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  R[1] = Math.imul(al, bl)
  R[0] = (mulHi(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0
}

/** (ah, al) + (bh, bl) mod 2^64 into R. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = (al >>> 0) + (bl >>> 0)
  R[1] = lo | 0
  R[0] = (ah + bh + (lo > 0xffffffff ? 1 : 0)) | 0
}

/** Rotates (h, l) left by `r` bits, 0 < r < 32, into R. */
function rotl(h: number, l: number, r: number): void {
  R[0] = (h << r) | (l >>> (32 - r))
  R[1] = (l << r) | (h >>> (32 - r))
}

/** xxHash64's `round`: acc + input × P2, rotated left 31, × P1, into R. */
function round(acch: number, accl: number, inh: number, inl: number): void {
  // input × P2
  const lo = Math.imul(inl, P2L)
  let hi = (mulHi(inl, P2L) + Math.imul(inl, P2H) + Math.imul(inh, P2L)) | 0
  // + acc
  const sum = (accl >>> 0) + (lo >>> 0)
  hi = (acch + hi + (sum > 0xffffffff ? 1 : 0)) | 0
  // rotated left 31, × P1
  const rh = (hi << 31) | ((sum | 0) >>> 1)
  const rl = (sum << 31) | (hi >>> 1)
  R[1] = Math.imul(rl, P1L)
  R[0] = (mulHi(rl, P1L) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
}

/** xxHash64's `mergeRound`: acc ^ round(0, val), × P1, + P4. */
function merge(acch: number, accl: number, vh: number, vl: number): void {
  round(0, 0, vh, vl)
  mul(acch ^ R[0]!, accl ^ R[1]!, P1H, P1L)
  add(R[0]!, R[1]!, P4H, P4L)
}

function read32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
}

// The four accumulator lanes (high, low) of the 32-byte stripe loop.
const V = new Int32Array(8)

/**
 * Runs xxHash64's `round` (lane + input × P2, rotated left 31, × P1) on the four lanes in V for
 * the 32-byte stripe at `p`: one function over the lanes, so the hot loop makes no nested calls.
 */
function stripe(b: Uint8Array, p: number): void {
  for (let lane = 0; lane < 8; lane += 2) {
    const q = p + lane * 4
    const inl = b[q]! | (b[q + 1]! << 8) | (b[q + 2]! << 16) | (b[q + 3]! << 24)
    const inh = b[q + 4]! | (b[q + 5]! << 8) | (b[q + 6]! << 16) | (b[q + 7]! << 24)
    const lo = Math.imul(inl, P2L)
    let hi = (mulHi(inl, P2L) + Math.imul(inl, P2H) + Math.imul(inh, P2L)) | 0
    const sum = (V[lane + 1]! >>> 0) + (lo >>> 0)
    hi = (V[lane]! + hi + (sum > 0xffffffff ? 1 : 0)) | 0
    const rh = (hi << 31) | ((sum | 0) >>> 1)
    const rl = (sum << 31) | (hi >>> 1)
    V[lane + 1] = Math.imul(rl, P1L)
    V[lane] = (mulHi(rl, P1L) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
  }
}

/** xxHash64 of `bytes[0, length)` with the seed (seedHi, seedLo), into R. */
function xxh64(bytes: Uint8Array, length: number, seedHi: number, seedLo: number): void {
  let p = 0
  let hh: number
  let hl: number
  if (length >= 32) {
    add(seedHi, seedLo, P1H, P1L)
    add(R[0]!, R[1]!, P2H, P2L)
    V[0] = R[0]!
    V[1] = R[1]!
    add(seedHi, seedLo, P2H, P2L)
    V[2] = R[0]!
    V[3] = R[1]!
    V[4] = seedHi
    V[5] = seedLo
    add(seedHi, seedLo, NEG_P1H, NEG_P1L)
    V[6] = R[0]!
    V[7] = R[1]!
    const limit = length - 32
    while (p <= limit) {
      stripe(bytes, p)
      p += 32
    }
    const v1h = V[0]!
    const v1l = V[1]!
    const v2h = V[2]!
    const v2l = V[3]!
    const v3h = V[4]!
    const v3l = V[5]!
    const v4h = V[6]!
    const v4l = V[7]!
    rotl(v1h, v1l, 1)
    hh = R[0]!
    hl = R[1]!
    rotl(v2h, v2l, 7)
    add(hh, hl, R[0]!, R[1]!)
    hh = R[0]!
    hl = R[1]!
    rotl(v3h, v3l, 12)
    add(hh, hl, R[0]!, R[1]!)
    hh = R[0]!
    hl = R[1]!
    rotl(v4h, v4l, 18)
    add(hh, hl, R[0]!, R[1]!)
    merge(R[0]!, R[1]!, v1h, v1l)
    merge(R[0]!, R[1]!, v2h, v2l)
    merge(R[0]!, R[1]!, v3h, v3l)
    merge(R[0]!, R[1]!, v4h, v4l)
    hh = R[0]!
    hl = R[1]!
  } else {
    add(seedHi, seedLo, P5H, P5L)
    hh = R[0]!
    hl = R[1]!
  }
  // + length (keys are far below 2^31 bytes)
  add(hh, hl, 0, length)
  hh = R[0]!
  hl = R[1]!
  while (p + 8 <= length) {
    round(0, 0, read32(bytes, p + 4), read32(bytes, p))
    rotl(hh ^ R[0]!, hl ^ R[1]!, 27)
    mul(R[0]!, R[1]!, P1H, P1L)
    add(R[0]!, R[1]!, P4H, P4L)
    hh = R[0]!
    hl = R[1]!
    p += 8
  }
  if (p + 4 <= length) {
    mul(0, read32(bytes, p), P1H, P1L)
    rotl(hh ^ R[0]!, hl ^ R[1]!, 23)
    mul(R[0]!, R[1]!, P2H, P2L)
    add(R[0]!, R[1]!, P3H, P3L)
    hh = R[0]!
    hl = R[1]!
    p += 4
  }
  while (p < length) {
    mul(0, bytes[p]!, P5H, P5L)
    rotl(hh ^ R[0]!, hl ^ R[1]!, 11)
    mul(R[0]!, R[1]!, P1H, P1L)
    hh = R[0]!
    hl = R[1]!
    p++
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  mul(hh, hl ^ (hh >>> 1), P2H, P2L)
  hh = R[0]!
  hl = R[1]!
  mul(hh ^ (hh >>> 29), hl ^ ((hl >>> 29) | (hh << 3)), P3H, P3L)
  R[1] = R[1]! ^ R[0]!
}

/**
 * Largest scratch buffer kept between calls (bytes). A longer string key is encoded into a
 * one-off buffer instead, so one huge key does not pin memory for the life of the process.
 */
const MAX_SCRATCH = 64 * 1024
let scratch = new Uint8Array(256)

/**
 * Keys up to this many UTF-16 units are encoded by `encodeUtf8`; longer ones by
 * `TextEncoder.encodeInto`, whose native loop wins past about this length (bench/hashing.ts)
 * at the price of the small `{ read, written }` object it returns.
 */
const NATIVE_ENCODE_FROM = 17
const encoder = new TextEncoder()

/**
 * Hashes a call key with xxHash64, seed 0: a `Uint8Array` as its bytes, a string as its UTF-8
 * bytes, encoded into a reused scratch buffer.
 */
export function hashKey(key: string | Uint8Array, out: HashOut): void {
  if (typeof key === 'string') {
    const n = key.length
    let buffer = scratch
    if (n * 3 > buffer.length) {
      if (n * 3 <= MAX_SCRATCH) {
        let size = buffer.length * 2
        while (size < n * 3) size *= 2
        buffer = scratch = new Uint8Array(size)
      } else {
        buffer = new Uint8Array(n * 3)
      }
    }
    const length = n < NATIVE_ENCODE_FROM ? encodeUtf8(key, buffer) : encoder.encodeInto(key, buffer).written
    xxh64(buffer, length, 0, 0)
  } else {
    xxh64(key, key.length, 0, 0)
  }
  out.hashHi = R[0]! >>> 0
  out.hashLo = R[1]! >>> 0
}

/**
 * xxHash64 of `bytes[0, length)` with a 64-bit seed given as halves (build-time use and tests).
 */
export function xxHash64(bytes: Uint8Array, out: HashOut, seedHi = 0, seedLo = 0, length = bytes.length): void {
  xxh64(bytes, length, seedHi | 0, seedLo | 0)
  out.hashHi = R[0]! >>> 0
  out.hashLo = R[1]! >>> 0
}
