/** A source of uniform numbers in [0, 1). keel draws every random choice and jitter from it. */
export type Random = () => number

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

/**
 * keel's default random source: the same generator, seeded once from `crypto.getRandomValues`,
 * so every process draws its own sequence. Not `Math.random`: V8 hands back every
 * `Math.random()` result as a fresh 16-byte heap number, even in optimised code (measured on
 * Node 22 and 24: one young-generation allocation per call), and pickers draw one or two numbers
 * per pick; this generator allocates nothing, and is small enough to be inlined into a pick.
 */
export const systemRandom: Random = seededRandom(globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!)
