/** A source of uniform numbers in [0, 1). keel draws every random choice and jitter from it. */
export type Random = () => number

/** `Math.random`, read at call time. */
export const systemRandom: Random = () => Math.random()

/**
 * A seeded generator (mulberry32, Tommy Ettinger's 32-bit mixer): fast, 2^32 period, good enough
 * for load balancing and jitter, and deterministic, so a test or a simulation replays exactly.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
