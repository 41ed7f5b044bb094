import { checkObject, rangeError, rejectUnknownKeys, requireNumber } from '../internal/validate.ts'
import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../model/picker.ts'
import { checkBalanceFactor, EMPTY, EMPTY_PICKER, HashPicker, sortedById } from './hash-picker.ts'
import { type HashOut, xxHash64 } from './xxhash64.ts'

/** The Maglev paper's and Envoy's default table size (a prime). */
export const DEFAULT_TABLE_SIZE = 65_537
/** Envoy's limit on a configured `table_size`. */
export const MAX_TABLE_SIZE = 5_000_011
/** Slots per endpoint below which a table is grown: the Maglev paper asks for M > 100 × N (§3.4). */
export const SLOTS_PER_ENDPOINT = 100
/**
 * Largest table keel grows to: `(h mod M) × (2^32 mod M) + lo` stays exact in a double below
 * 2^26 (it would take 670,000 endpoints to get there).
 */
const MAX_GROWN_SIZE = 67_108_859

/** Options of `maglev()`. */
export interface MaglevOptions {
  /**
   * Slots in the lookup table, a prime (Envoy `table_size`, ≤ 5,000,011). When membership
   * outgrows it (more than size ÷ 100 endpoints) the table grows to the next prime above 100 ×
   * endpoints and the balancer emits a `warning`. @default 65_537
   */
  readonly tableSize?: number
  /**
   * Bounded load: an endpoint takes a keyed attempt only while its in-flight stays within
   * ⌈balanceFactor × mean in-flight⌉ (weighted), else the key's next choice does (Envoy
   * `hash_balance_factor` ÷ 100). At least 1; 1.25 is the paper's and Envoy's example.
   * @default undefined (off)
   */
  readonly balanceFactor?: number
}

export function isPrime(n: number): boolean {
  if (n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/** The smallest prime strictly above `n`. */
export function nextPrime(n: number): number {
  let p = Math.floor(n) + 1
  while (!isPrime(p)) p++
  return p
}

/**
 * `x mod m` for integers 0 ≤ x < 2^53, given `inv = 1 / m`: the product x × inv is within 2/m of
 * x ÷ m, so its floor is the quotient or one off, and one correction makes the remainder exact.
 * (V8 compiles `%` on such doubles to a call; a multiply is cheaper than a division too.)
 */
function mod(x: number, m: number, inv: number): number {
  const r = x - Math.floor(x * inv) * m
  return r < 0 ? r + m : r >= m ? r - m : r
}

/** A 64-bit hash (hi, lo) modulo `m`, given `r = 2^32 mod m` and `inv = 1 / m` (exact for m < 2^26). */
function mod64(hi: number, lo: number, m: number, r: number, inv: number): number {
  return mod(mod(hi, m, inv) * r + lo, m, inv)
}

/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016, §3.4; Envoy MAGLEV): each endpoint walks its own permutation of the table's slots
 * (offset and skip from two hashes of its id) and endpoints take turns claiming their next free
 * slot until the table is full, so every endpoint holds within one slot of its share. A key's
 * lookup is one modulo and one array read.
 */
class MaglevPicker extends HashPicker {
  readonly #size: number
  readonly #r: number
  readonly #inv: number

  constructor(endpoints: readonly PickerEndpoint[], table: Uint32Array, balanceFactor: number | undefined) {
    super(endpoints, table, balanceFactor)
    this.#size = table.length
    this.#r = 4294967296 % table.length
    this.#inv = 1 / table.length
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    return this.pickAt(context, mod64(context.hashHi, context.hashLo, this.#size, this.#r, this.#inv))
  }
}

/**
 * Fills a Maglev table of `size` slots. Weighted as Envoy does: in round `r` an endpoint claims a
 * slot only while its claims × the largest weight ≤ r × its weight, so its share of the table
 * follows its weight and every endpoint claims at least one slot.
 */
export function maglevTable(endpoints: readonly PickerEndpoint[], size: number): Uint32Array {
  const n = endpoints.length
  // Positions and skips stay below 2^26: int32 arrays keep the probe loop in integer arithmetic.
  const next = new Int32Array(n)
  const skip = new Int32Array(n)
  const weight = new Float64Array(n)
  const claimed = new Float64Array(n)
  const r = 4294967296 % size
  const hash: HashOut = { hashHi: 0, hashLo: 0 }
  const encoder = new TextEncoder()
  let maxWeight = 0
  let minWeight = Number.POSITIVE_INFINITY
  for (let i = 0; i < n; i++) {
    const id = encoder.encode(endpoints[i]!.endpoint.id)
    xxHash64(id, hash, 0, 0)
    next[i] = mod64(hash.hashHi, hash.hashLo, size, r, 1 / size)
    xxHash64(id, hash, 0, 1)
    skip[i] = size === 1 ? 0 : mod64(hash.hashHi, hash.hashLo, size - 1, 4294967296 % (size - 1), 1 / (size - 1)) + 1
    const w = endpoints[i]!.endpoint.weight
    weight[i] = w
    if (w > maxWeight) maxWeight = w
    if (w < minWeight) minWeight = w
  }
  const weighted = maxWeight !== minWeight
  const table = new Uint32Array(size).fill(EMPTY)
  let filled = 0
  for (let round = 1; filled < size; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (weighted) {
        if (claimed[i]! * maxWeight > round * weight[i]!) continue
        claimed[i]!++
      }
      const s = skip[i]!
      let c = next[i]!
      while (table[c] !== EMPTY) {
        c += s
        if (c >= size) c -= size
      }
      table[c] = i
      c += s
      next[i] = c >= size ? c - size : c
      filled++
    }
  }
  return table
}

/** The table size for `n` endpoints: the configured one, or the next prime above 100 × n. */
export function maglevTableSize(configured: number, n: number): number {
  if (n * SLOTS_PER_ENDPOINT <= configured) return configured
  return Math.min(nextPrime(n * SLOTS_PER_ENDPOINT), MAX_GROWN_SIZE)
}

/**
 * The `maglev` picker: Maglev consistent hashing over a 65,537-slot table (grown for large
 * fleets). Faster lookups and a more even spread than `ring-hash`; a membership change moves a
 * few more keys than the minimum. Calls without a key go to `fallbackPicker`.
 */
export function maglev(options: MaglevOptions = {}): PickerFactory {
  const o = checkObject('maglev', options) ?? {}
  rejectUnknownKeys('maglev', o, ['tableSize', 'balanceFactor'])
  let tableSize = DEFAULT_TABLE_SIZE
  if (o.tableSize !== undefined) {
    tableSize = requireNumber('maglev.tableSize', o.tableSize, { integer: true, min: 2, max: MAX_TABLE_SIZE })
    if (!isPrime(tableSize)) throw rangeError('maglev.tableSize', 'a prime number', tableSize)
  }
  const balanceFactor = checkBalanceFactor('maglev.balanceFactor', o.balanceFactor)
  return Object.freeze({
    name: 'maglev',
    scope: 'members',
    keyed: true,
    slowStart: false,
    build(members: readonly PickerEndpoint[], context: PickerBuildContext): Picker {
      if (members.length === 0) return EMPTY_PICKER
      const endpoints = sortedById(members)
      const size = maglevTableSize(tableSize, endpoints.length)
      const previous = context.previous instanceof MaglevPicker ? context.previous.table.length : tableSize
      if (size !== tableSize && size !== previous) {
        context.warn(
          'KEEL_MAGLEV_TABLE_GROWN',
          `maglev: ${endpoints.length} endpoints outgrow \`tableSize\` ${tableSize} (${SLOTS_PER_ENDPOINT} slots per ` +
            `endpoint keep keys evenly spread); the table now has ${size} slots`,
        )
      }
      return new MaglevPicker(endpoints, maglevTable(endpoints, size), balanceFactor)
    },
  } satisfies PickerFactory)
}
