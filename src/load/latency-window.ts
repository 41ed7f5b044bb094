/** Sub-buckets per power of two: bucket bounds grow by 2^(1/8) ≈ 9%, the estimate's resolution. */
const PER_OCTAVE = 8
/** Smallest latency told apart: 1/64 ms; everything below shares the first bucket. */
const FLOOR_MS = 1 / 64
/** 2^26 × 1/64 ms ≈ 17 min: larger latencies share the last bucket. */
const OCTAVES = 26
const BUCKETS = PER_OCTAVE * OCTAVES
const SLICES = 10

/**
 * A sliding-window latency histogram for the `'p95'` hedge delay (Finagle's `BackupRequestFilter`
 * and tower's hedge both hedge at a recent latency percentile). Log-spaced buckets (8 per power of
 * two, ≈ 9% resolution, 1/64 ms to ~17 min) over a window split in 10 slices on the injected clock:
 * recording is O(1); a percentile costs one pass over ~200 buckets and is reused while it is under
 * a tenth of the window old and the sample count moved by at most 2%. Memory: 10 × 208 counters per balancer.
 */
export class LatencyWindow {
  readonly #sliceMs: number
  readonly #minSamples: number
  readonly #slices: Uint32Array[] = Array.from({ length: SLICES }, () => new Uint32Array(BUCKETS))
  readonly #totals = new Uint32Array(BUCKETS)
  #count = 0
  #epoch = Number.NEGATIVE_INFINITY
  #cachedAt = Number.NEGATIVE_INFINITY
  #cachedCount = -1
  #cachedQuantile = -1
  #cached: number | undefined

  /**
   * @param windowMs how far back samples count (default 10 s)
   * @param minSamples samples needed before a percentile is reported (default 20)
   */
  constructor(windowMs = 10_000, minSamples = 20) {
    this.#sliceMs = windowMs / SLICES
    this.#minSamples = minSamples
  }

  record(now: number, ms: number): void {
    const slice = this.#slices[this.#advance(now)]!
    const bucket = bucketOf(ms)
    slice[bucket]!++
    this.#totals[bucket]!++
    this.#count++
  }

  /** The `q` quantile (0–1) of the window's samples, or undefined with too few samples. */
  quantile(now: number, q: number): number | undefined {
    this.#advance(now)
    const count = this.#count
    // Reuse the last answer while it is fresh: same quantile, under a slice old, counts within 2%.
    if (
      q === this.#cachedQuantile &&
      now - this.#cachedAt < this.#sliceMs &&
      Math.abs(count - this.#cachedCount) <= this.#cachedCount / 50
    ) {
      return this.#cached
    }
    this.#cachedAt = now
    this.#cachedQuantile = q
    this.#cachedCount = count
    if (this.#count < this.#minSamples) return (this.#cached = undefined)
    const rank = Math.ceil(q * this.#count)
    let seen = 0
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#totals[b]!
      if (seen >= rank) return (this.#cached = upperBound(b))
    }
    return (this.#cached = upperBound(BUCKETS - 1))
  }

  get size(): number {
    return this.#count
  }

  #advance(now: number): number {
    const epoch = Math.floor(now / this.#sliceMs)
    if (epoch > this.#epoch) {
      const steps = this.#epoch === Number.NEGATIVE_INFINITY ? SLICES : Math.min(SLICES, epoch - this.#epoch)
      for (let i = 1; i <= steps; i++) {
        const slice = this.#slices[(((epoch - steps + i) % SLICES) + SLICES) % SLICES]!
        for (let b = 0; b < BUCKETS; b++) {
          const n = slice[b]!
          if (n !== 0) {
            this.#totals[b]! -= n
            this.#count -= n
            slice[b] = 0
          }
        }
      }
      this.#epoch = epoch
      this.#cachedAt = Number.NEGATIVE_INFINITY
    }
    return ((this.#epoch % SLICES) + SLICES) % SLICES
  }
}

function bucketOf(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0
  const b = Math.floor(Math.log2(ms / FLOOR_MS) * PER_OCTAVE)
  return b >= BUCKETS ? BUCKETS - 1 : b
}

/** The largest latency a bucket holds: quantiles round up, so hedges never come too early. */
function upperBound(bucket: number): number {
  return FLOOR_MS * 2 ** ((bucket + 1) / PER_OCTAVE)
}
