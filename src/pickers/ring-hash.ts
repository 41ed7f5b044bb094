import { encodeUtf8 } from '../internal/utf8.ts'
import { checkObject, rangeError, rejectUnknownKeys, requireNumber } from '../internal/validate.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { checkBalanceFactor, EMPTY, EMPTY_PICKER, HashPicker, sortedById } from './hash-picker.ts'
import { type HashOut, xxHash64 } from './xxhash64.ts'

/** Envoy's and gRPC A42's ring size limit: 8M entries. */
export const MAX_RING_SIZE = 8 * 1024 * 1024
/**
 * Points per unit of static weight: libketama's 160 (40 MD5 digests × 4 points per server). It
 * must not depend on membership, or a membership change would move keys between the endpoints
 * that stayed; 160 also meets the default `minRingSize` (1024) for every fleet of total weight
 * 7 or more, so only smaller fleets ever get more points per unit.
 */
export const POINTS_PER_WEIGHT = 160

/** Options of `ringHash()`. */
export interface RingHashOptions {
  /**
   * The ring has at least this many entries (Envoy `minimum_ring_size`). Fleets of total weight
   * below `minRingSize / 160` get more points per unit of weight to reach it, at a price: a
   * membership change of such a small fleet also moves some keys between the endpoints that
   * stay. `1` keeps 160 points per unit at every size. @default 1024
   */
  readonly minRingSize?: number
  /**
   * The ring has at most this many entries (Envoy `maximum_ring_size`; limited to 8M). A fleet of
   * total weight above `maxRingSize / 160` gets fewer points per unit (and a `warning`). @default 8_388_608
   */
  readonly maxRingSize?: number
  /**
   * Bounded load: an endpoint takes a keyed attempt only while its in-flight, counting the new
   * attempt, stays within ⌈balanceFactor × total in-flight × weight ÷ total weight⌉ (the mean
   * when weights are equal); else the key's next choice does (Envoy `hash_balance_factor` ÷ 100).
   * At least 1; 1.25 is the paper's and Envoy's example. @default undefined (off)
   */
  readonly balanceFactor?: number
}

/** A ring point from a 64-bit hash: its top 53 bits, exact in a double. */
function point(hash: HashOut): number {
  return hash.hashHi * 2097152 + (hash.hashLo >>> 11)
}

/**
 * Ketama-style consistent hashing (Karger et al. 1997; Envoy RING_HASH, gRPC A42): every endpoint
 * owns 160 points per unit of weight on a 64-bit ring (xxHash64 of `id_i`), and a key belongs to
 * the first point at or after its hash. Removing an endpoint moves only the keys it owned.
 */
class RingHashPicker extends HashPicker {
  /** Sorted ring points; `table[k]` owns `points[k]`. */
  readonly points: Float64Array
  /**
   * `starts[b]` is the first point whose top `bits` bits are ≥ b (`starts[2^bits]` = ring size):
   * a key's search narrows to its bucket, about two points, instead of the whole ring.
   */
  readonly #starts: Uint32Array
  readonly #shift: number

  constructor(
    endpoints: readonly PickerEndpoint[],
    points: Float64Array,
    owners: Uint32Array,
    balanceFactor: number | undefined,
  ) {
    super(endpoints, owners, balanceFactor)
    this.points = points
    const bits = Math.min(20, Math.max(1, Math.ceil(Math.log2(points.length / 2))))
    const buckets = 2 ** bits
    const starts = new Uint32Array(buckets + 1)
    // A point's bucket is the top `bits` bits of its hash's high half (points are hi × 2^21 + …).
    const width = 2 ** (53 - bits)
    let k = 0
    for (let b = 0; b <= buckets; b++) {
      const boundary = b * width
      while (k < points.length && points[k]! < boundary) k++
      starts[b] = k
    }
    this.#starts = starts
    this.#shift = 32 - bits
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const points = this.points
    const key = context.hashHi * 2097152 + (context.hashLo >>> 11)
    // The first point at or after the key (binary search within its bucket), wrapping past the last.
    const bucket = context.hashHi >>> this.#shift
    let lo = this.#starts[bucket]!
    let hi = this.#starts[bucket + 1]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid]! < key) lo = mid + 1
      else hi = mid
    }
    return this.pickAt(context, lo === points.length ? 0 : lo)
  }
}

/** Points per endpoint (each ≥ 1), and whether `maxRingSize` cut them below 160 per unit of weight. */
function ringCounts(
  endpoints: readonly PickerEndpoint[],
  minRingSize: number,
  maxRingSize: number,
): { counts: Uint32Array; capped: boolean } {
  let weight = 0
  for (const e of endpoints) weight += e.endpoint.weight
  let perUnit = Math.max(POINTS_PER_WEIGHT, Math.ceil(minRingSize / weight))
  let capped = false
  if (perUnit * weight > maxRingSize) {
    perUnit = maxRingSize / weight
    capped = true
  }
  const counts = new Uint32Array(endpoints.length)
  for (let i = 0; i < endpoints.length; i++) {
    counts[i] = Math.max(1, Math.floor(perUnit * endpoints[i]!.endpoint.weight))
  }
  return { counts, capped }
}

/** Writes `n` in decimal at `bytes[at]`; returns the end offset. */
function writeDecimal(bytes: Uint8Array, at: number, n: number): number {
  let digits = 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
  for (let i = at + digits - 1; i >= at; i--) {
    bytes[i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
  return at + digits
}

function buildRing(
  endpoints: readonly PickerEndpoint[],
  counts: Uint32Array,
): { points: Float64Array; owners: Uint32Array } {
  let size = 0
  for (const c of counts) size += c
  const unsorted = new Float64Array(size)
  const ownerOf = new Uint32Array(size)
  const hash: HashOut = { hashHi: 0, hashLo: 0 }
  let bytes = new Uint8Array(64)
  let k = 0
  for (let i = 0; i < endpoints.length; i++) {
    // Point j of an endpoint is the hash of `${id}_${j}` (Envoy: `${address}_${j}`), written
    // into one byte buffer rather than built as a string per point.
    const id = endpoints[i]!.endpoint.id
    if (bytes.length < id.length * 3 + 12) bytes = new Uint8Array(id.length * 3 + 12)
    const prefix = encodeUtf8(id, bytes)
    bytes[prefix] = 95 // '_'
    for (let j = 0; j < counts[i]!; j++) {
      xxHash64(bytes, hash, 0, 0, writeDecimal(bytes, prefix + 1, j))
      unsorted[k] = point(hash)
      ownerOf[k++] = i
    }
  }
  // A native numeric sort of the points, then each point finds its place by binary search:
  // no comparator callback over up to 8M entries. Equal points (vanishingly rare at 53 bits) keep
  // endpoint order, so the ring stays a function of the membership alone.
  const points = unsorted.slice().sort()
  const owners = new Uint32Array(size).fill(EMPTY)
  for (k = 0; k < size; k++) {
    const p = unsorted[k]!
    let lo = 0
    let hi = size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid]! < p) lo = mid + 1
      else hi = mid
    }
    while (owners[lo] !== EMPTY) lo++
    owners[lo] = ownerOf[k]!
  }
  return { points, owners }
}

/**
 * The `ring-hash` picker: consistent hashing on a ketama ring with 160 points per unit of weight (Envoy RING_HASH, gRPC A42). Keyed calls stick to an endpoint; calls without a key
 * go to `fallbackPicker`. Built from membership and static weights, rebuilt at most every 100 ms.
 */
export function ringHash(options: RingHashOptions = {}): PickerFactory {
  const o = checkObject('ringHash', options) ?? {}
  rejectUnknownKeys('ringHash', o, ['minRingSize', 'maxRingSize', 'balanceFactor'])
  const size = { integer: true, min: 1, max: MAX_RING_SIZE }
  const minRingSize = o.minRingSize === undefined ? 1024 : requireNumber('ringHash.minRingSize', o.minRingSize, size)
  const maxRingSize =
    o.maxRingSize === undefined ? MAX_RING_SIZE : requireNumber('ringHash.maxRingSize', o.maxRingSize, size)
  if (maxRingSize < minRingSize) {
    throw rangeError('ringHash.maxRingSize', `at least \`ringHash.minRingSize\` (${minRingSize})`, maxRingSize)
  }
  const balanceFactor = checkBalanceFactor('ringHash.balanceFactor', o.balanceFactor)
  return Object.freeze({
    name: 'ring-hash',
    scope: 'members',
    keyed: true,
    slowStart: false,
    build(members: readonly PickerEndpoint[], context: PickerBuildContext): Picker {
      if (members.length === 0) return EMPTY_PICKER
      const endpoints = sortedById(members)
      const { counts, capped } = ringCounts(endpoints, minRingSize, maxRingSize)
      const { points, owners } = buildRing(endpoints, counts)
      if (capped && !(context.previous instanceof RingHashPicker && context.previous.points.length === points.length)) {
        context.warn(
          'KEEL_RING_SIZE_CAPPED',
          `ring-hash: ${endpoints.length} endpoints need more than \`maxRingSize\` (${maxRingSize}) entries for ` +
            `${POINTS_PER_WEIGHT} per unit of weight; the ring has ${points.length}, so weights are followed less closely`,
        )
      }
      return new RingHashPicker(endpoints, points, owners, balanceFactor)
    },
  } satisfies PickerFactory)
}
