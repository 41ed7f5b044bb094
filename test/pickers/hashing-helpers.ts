import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from '../../src/index.ts'
import { seededRandom } from '../../src/index.ts'
import { hashKey } from '../../src/pickers/hash.ts'

/** A picker-level stand-in for the balancer's endpoint state. */
export interface FakeEndpoint extends PickerEndpoint {
  readonly index: number
  inFlight: number
  pickable: boolean
}

export function fakeEndpoints(n: number, weight: (i: number) => number = () => 1): FakeEndpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const w = weight(i)
    return {
      index: i,
      endpoint: { id: `http://10.0.${i >> 8}.${i & 255}:8080`, weight: w } as PickerEndpoint['endpoint'],
      weight: w,
      inFlight: 0,
      pickable: true,
      latencyMs: () => 10,
      load: { read: () => 10, busy: () => 0, deviationMs: 0, guess: false, stale: () => false },
    }
  })
}

/** A reusable pick context; `skip` holds what this pick must avoid. */
export interface TestContext extends PickContext {
  hashHi: number
  hashLo: number
  hasKey: boolean
  maxInFlight: number
  totalInFlight: number
  readonly skip: Set<PickerEndpoint>
}

export function testContext(): TestContext {
  const skip = new Set<PickerEndpoint>()
  return {
    now: 0,
    hasKey: true,
    hashHi: 0,
    hashLo: 0,
    maxInFlight: Number.POSITIVE_INFINITY,
    totalInFlight: 0,
    skip,
    skipped: (e) => skip.size > 0 && skip.has(e),
  }
}

export interface Warning {
  readonly code: string
  readonly message: string
}

export function build(
  factory: PickerFactory,
  endpoints: readonly PickerEndpoint[],
  warnings: Warning[] = [],
  previous?: Picker,
): Picker {
  const context: PickerBuildContext = {
    random: seededRandom(1),
    previous,
    warn: (code, message) => warnings.push({ code, message }),
  }
  return factory.build(endpoints, context)
}

/** The xxHash64 of `key-0` … `key-(count-1)`, as high and low halves. */
export function keyHashes(count: number): { hi: Uint32Array; lo: Uint32Array } {
  const hi = new Uint32Array(count)
  const lo = new Uint32Array(count)
  const out = { hashHi: 0, hashLo: 0 }
  for (let k = 0; k < count; k++) {
    hashKey(`key-${k}`, out)
    hi[k] = out.hashHi
    lo[k] = out.hashLo
  }
  return { hi, lo }
}

/** The index of the endpoint each key picks (-1 for none). */
export function mapKeys(picker: Picker, hashes: { hi: Uint32Array; lo: Uint32Array }): Int32Array {
  const context = testContext()
  const out = new Int32Array(hashes.hi.length)
  for (let k = 0; k < out.length; k++) {
    context.hashHi = hashes.hi[k]!
    context.hashLo = hashes.lo[k]!
    const e = picker.pick(context) as FakeEndpoint | undefined
    out[k] = e === undefined ? -1 : e.index
  }
  return out
}

/** A key's preference order: pick, skip what was picked, pick again, until nothing is left. */
export function preference(picker: Picker, key: string): string[] {
  const context = testContext()
  hashKey(key, context)
  const order: string[] = []
  for (;;) {
    const e = picker.pick(context)
    if (e === undefined) return order
    order.push(e.endpoint.id)
    context.skip.add(e)
  }
}

/** Fisher–Yates with a seeded random. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed)
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** A seeded Zipf(s) sampler over ranks 0 … n-1 (rank 0 the most frequent). */
export function zipf(n: number, s: number, seed: number): () => number {
  const cumulative = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1) ** s
    cumulative[k] = sum
  }
  const random = seededRandom(seed)
  return () => {
    const u = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cumulative[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
