/**
 * xxHash64 (Yann Collet, https://github.com/Cyan4973/xxHash, `doc/xxhash_spec.md`) in 32-bit
 * limbs: every 64-bit value is a pair of 32-bit halves held as int32 (small integers to V8, never
 * boxed), so hashing never touches BigInt or allocates.
 *
 * Why xxHash64: it is the hash Envoy uses for ring hash and Maglev (and gRPC A42 for ring hash),
 * it mixes well, and its published test vectors pin an implementation down exactly.
 */

/** Where a 64-bit hash is written, as two unsigned 32-bit halves. */
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
 * The high word of the unsigned 64-bit product a × b, as an int32, from the four 16 × 16-bit
 * partial products: each fits 32 bits, so `imul` gives it exactly and everything stays in int32
 * arithmetic (no conversion to and from doubles on the dependency chain).
 */
function mulHi(a: number, b: number): number {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  const p01 = Math.imul(a0, b1)
  const p10 = Math.imul(a1, b0)
  const carry = ((Math.imul(a0, b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16
  return (Math.imul(a1, b1) + (p01 >>> 16) + (p10 >>> 16) + carry) | 0
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
  finish(bytes, p, length, hh, hl)
}

/**
 * xxHash64's ending: + length, the remaining 8-, 4- and 1-byte steps, and the avalanche, into R.
 * Written out straight (no helper calls but `mulHi`): short keys spend all their time here, and
 * V8 would not inline a dozen helper calls per key.
 */
function finish(bytes: Uint8Array, p: number, length: number, hh: number, hl: number): void {
  let sum = (hl >>> 0) + length
  hl = sum | 0
  hh = (hh + (sum > 0xffffffff ? 1 : 0)) | 0
  let lo: number
  let hi: number
  let rh: number
  let rl: number
  while (p + 8 <= length) {
    const inl = read32(bytes, p)
    const inh = read32(bytes, p + 4)
    // k = round(0, input): input × P2, rotated left 31, × P1
    lo = Math.imul(inl, P2L)
    hi = (mulHi(inl, P2L) + Math.imul(inl, P2H) + Math.imul(inh, P2L)) | 0
    rh = (hi << 31) | (lo >>> 1)
    rl = (lo << 31) | (hi >>> 1)
    hl ^= Math.imul(rl, P1L)
    hh ^= (mulHi(rl, P1L) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
    // h = rotl(h ^ k, 27) × P1 + P4
    rh = (hh << 27) | (hl >>> 5)
    rl = (hl << 27) | (hh >>> 5)
    lo = Math.imul(rl, P1L)
    hi = (mulHi(rl, P1L) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
    sum = (lo >>> 0) + (P4L >>> 0)
    hl = sum | 0
    hh = (hi + P4H + (sum > 0xffffffff ? 1 : 0)) | 0
    p += 8
  }
  if (p + 4 <= length) {
    // h = rotl(h ^ (input32 × P1), 23) × P2 + P3
    const k = read32(bytes, p)
    hl ^= Math.imul(k, P1L)
    hh ^= (mulHi(k, P1L) + Math.imul(k, P1H)) | 0
    rh = (hh << 23) | (hl >>> 9)
    rl = (hl << 23) | (hh >>> 9)
    lo = Math.imul(rl, P2L)
    hi = (mulHi(rl, P2L) + Math.imul(rl, P2H) + Math.imul(rh, P2L)) | 0
    sum = (lo >>> 0) + (P3L >>> 0)
    hl = sum | 0
    hh = (hi + P3H + (sum > 0xffffffff ? 1 : 0)) | 0
    p += 4
  }
  while (p < length) {
    // h = rotl(h ^ (byte × P5), 11) × P1
    const k = bytes[p]!
    hl ^= Math.imul(k, P5L)
    hh ^= (mulHi(k, P5L) + Math.imul(k, P5H)) | 0
    rh = (hh << 11) | (hl >>> 21)
    rl = (hl << 11) | (hh >>> 21)
    hl = Math.imul(rl, P1L)
    hh = (mulHi(rl, P1L) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
    p++
  }
  // Avalanche: h ^= h >> 33; h ×= P2; h ^= h >> 29; h ×= P3; h ^= h >> 32.
  hl ^= hh >>> 1
  lo = Math.imul(hl, P2L)
  hh = (mulHi(hl, P2L) + Math.imul(hl, P2H) + Math.imul(hh, P2L)) | 0
  hl = lo
  hl ^= (hl >>> 29) | (hh << 3)
  hh ^= hh >>> 29
  lo = Math.imul(hl, P3L)
  hh = (mulHi(hl, P3L) + Math.imul(hl, P3H) + Math.imul(hh, P3L)) | 0
  R[0] = hh
  R[1] = lo ^ hh
}

/** xxHash64 of `bytes[0, length)` with a 64-bit seed given as its halves. */
export function xxHash64(bytes: Uint8Array, out: HashOut, seedHi = 0, seedLo = 0, length = bytes.length): void {
  xxh64(bytes, length, seedHi | 0, seedLo | 0)
  out.hashHi = R[0]! >>> 0
  out.hashLo = R[1]! >>> 0
}
