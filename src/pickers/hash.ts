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
 * (ah, al) × (bh, bl) mod 2^64 into R. The low word is `imul`; the high word needs the carry out
 * of al × bl, found from its 16-bit pieces (the middle sum stays below 2^34, exact in a double).
 */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const mid = a1 * b0 + a0 * b1 + ((a0 * b0) >>> 16)
  R[1] = Math.imul(al, bl)
  R[0] = (a1 * b1 + ((mid / 65536) | 0) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0
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

// 16-bit pieces of the low halves multiplied by in `round`.
const P1L0 = P1L & 0xffff
const P1L1 = P1L >>> 16
const P2L0 = P2L & 0xffff
const P2L1 = P2L >>> 16

/**
 * xxHash64's `round`: acc + input × P2, rotated left 31, × P1, into R. Written out straight (the
 * two multiplications as in `mul`), since it runs four times per 32-byte stripe.
 */
function round(acch: number, accl: number, inh: number, inl: number): void {
  let a0 = inl & 0xffff
  let a1 = inl >>> 16
  let mid = a1 * P2L0 + a0 * P2L1 + ((a0 * P2L0) >>> 16)
  const lo = Math.imul(inl, P2L)
  let hi = (a1 * P2L1 + ((mid / 65536) | 0) + Math.imul(inl, P2H) + Math.imul(inh, P2L)) | 0
  const sum = (accl >>> 0) + (lo >>> 0)
  hi = (acch + hi + (sum > 0xffffffff ? 1 : 0)) | 0
  const rh = (hi << 31) | ((sum | 0) >>> 1)
  const rl = (sum << 31) | (hi >>> 1)
  a0 = rl & 0xffff
  a1 = rl >>> 16
  mid = a1 * P1L0 + a0 * P1L1 + ((a0 * P1L0) >>> 16)
  R[1] = Math.imul(rl, P1L)
  R[0] = (a1 * P1L1 + ((mid / 65536) | 0) + Math.imul(rl, P1H) + Math.imul(rh, P1L)) | 0
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

/** xxHash64 of `bytes[0, length)` with the seed (seedHi, seedLo), into R. */
function xxh64(bytes: Uint8Array, length: number, seedHi: number, seedLo: number): void {
  let p = 0
  let hh: number
  let hl: number
  if (length >= 32) {
    add(seedHi, seedLo, P1H, P1L)
    add(R[0]!, R[1]!, P2H, P2L)
    let v1h = R[0]!
    let v1l = R[1]!
    add(seedHi, seedLo, P2H, P2L)
    let v2h = R[0]!
    let v2l = R[1]!
    let v3h = seedHi
    let v3l = seedLo
    add(seedHi, seedLo, NEG_P1H, NEG_P1L)
    let v4h = R[0]!
    let v4l = R[1]!
    const limit = length - 32
    while (p <= limit) {
      round(v1h, v1l, read32(bytes, p + 4), read32(bytes, p))
      v1h = R[0]!
      v1l = R[1]!
      round(v2h, v2l, read32(bytes, p + 12), read32(bytes, p + 8))
      v2h = R[0]!
      v2l = R[1]!
      round(v3h, v3l, read32(bytes, p + 20), read32(bytes, p + 16))
      v3h = R[0]!
      v3l = R[1]!
      round(v4h, v4l, read32(bytes, p + 28), read32(bytes, p + 24))
      v4h = R[0]!
      v4l = R[1]!
      p += 32
    }
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
 * Writes the UTF-8 encoding of `s` into `out` (which holds at least 3 bytes per UTF-16 unit) and
 * returns its length. Lone surrogates become U+FFFD, as `TextEncoder` does.
 */
export function encodeUtf8(s: string, out: Uint8Array): number {
  const n = s.length
  let p = 0
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      out[p++] = c
      continue
    }
    if (c < 0x800) {
      out[p++] = 0xc0 | (c >>> 6)
      out[p++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        out[p++] = 0xf0 | (c >>> 18)
        out[p++] = 0x80 | ((c >>> 12) & 0x3f)
        out[p++] = 0x80 | ((c >>> 6) & 0x3f)
        out[p++] = 0x80 | (c & 0x3f)
        continue
      }
      c = 0xfffd
    }
    out[p++] = 0xe0 | (c >>> 12)
    out[p++] = 0x80 | ((c >>> 6) & 0x3f)
    out[p++] = 0x80 | (c & 0x3f)
  }
  return p
}

/**
 * Hashes a call key with xxHash64, seed 0: a `Uint8Array` as its bytes, a string as its UTF-8
 * bytes (encoded into a reused scratch buffer: no allocation per call).
 */
export function hashKey(key: string | Uint8Array, out: HashOut): void {
  if (typeof key === 'string') {
    const need = key.length * 3
    let buffer = scratch
    if (need > buffer.length) {
      if (need <= MAX_SCRATCH) {
        let size = buffer.length * 2
        while (size < need) size *= 2
        buffer = scratch = new Uint8Array(size)
      } else {
        buffer = new Uint8Array(need)
      }
    }
    xxh64(buffer, encodeUtf8(key, buffer), 0, 0)
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
