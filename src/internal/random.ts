/** A source of uniform numbers in [0, 1). keel draws every random choice and jitter from it. */
export type Random = () => number

// xoshiro128** state (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2021),
// seeded once from the OS. In a Uint32Array so that updating it never boxes a number.
const xoshiro = new Uint32Array(4)
globalThis.crypto.getRandomValues(xoshiro)
if ((xoshiro[0]! | xoshiro[1]! | xoshiro[2]! | xoshiro[3]!) === 0) xoshiro[0] = 1

/**
 * keel's default random source: xoshiro128** seeded from `crypto.getRandomValues`, 32 random bits
 * per number (ample for picks and jitter). Not `Math.random`: V8 hands back every `Math.random()`
 * result as a fresh 16-byte heap number, even in optimised code (measured on Node 22 and 24: one
 * young-generation allocation per call), and pickers draw one or two numbers per pick; this
 * generator allocates nothing once inlined.
 */
export const systemRandom: Random = () => {
  const s = xoshiro
  const s0 = s[0]!
  const s1 = s[1]!
  const x = Math.imul(s1, 5)
  const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0
  const t = s1 << 9
  s[2]! ^= s0
  s[3]! ^= s1
  s[1] = s1 ^ s[2]!
  s[0] = s0 ^ s[3]!
  s[2]! ^= t
  const s3 = s[3]!
  s[3] = (s3 << 11) | (s3 >>> 21)
  return result / 4294967296
}

/**
 * A seeded generator (mulberry32, Tommy Ettinger's 32-bit mixer): fast, 2^32 period, good enough
 * for load balancing and jitter, and deterministic, so a test or a simulation replays exactly.
 * Its state lives in a Uint32Array: a closure variable above 2^30 would be boxed on every update.
 */
export function seededRandom(seed: number): Random {
  const state = new Uint32Array(1)
  state[0] = seed >>> 0
  return () => {
    state[0] = state[0]! + 0x6d2b79f5
    let t = state[0]!
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
