// Consistent hashing (docs/benchmarks.md#consistent-hashing, docs/consistent-hashing.md): lookup
// cost with and without hashing a 64-byte key, build time, keys moved on removing an endpoint
// against the optimal 1/N, keys per endpoint, and how sticky bounded load keeps keys. Goals: maglev
// lookup ≤ 60 ns without hashing, ring ≤ 300 ns, maglev build ≤ 10 ms at 500 endpoints.
// Run: node bench/hashing.ts   (Node 22: npx -y -p node@22 node --experimental-strip-types bench/hashing.ts)
import {
  maglev,
  type PickContext,
  type Picker,
  type PickerFactory,
  ringHash,
  roundRobin,
  seededRandom,
} from '../src/index.ts'
import { hashKey } from '../src/pickers/hash.ts'
// The picker-level fakes, build() and the Zipf sampler are the hashing tests' own.
import { build, type FakeEndpoint as Fake, fakeEndpoints, zipf } from '../test/pickers/hashing-helpers.ts'
import { fmt, nsPerOp, table } from './lib.ts'

/**
 * Median ns per iteration of `body` over 7 runs after a warm-up, timed by this process's CPU time:
 * on a shared machine, wall time also counts the time other processes hold the core.
 */
const cpuNsPerOp = (body: (iterations: number) => void, iterations: number) =>
  nsPerOp(body, iterations, { timer: 'cpu' })

/** Median ms of `body` over 7 runs after a warm-up, by CPU time as above. */
const cpuMs = async (body: () => void) => (await cpuNsPerOp(body, 1)) / 1e6

function context(): PickContext & { hashHi: number; hashLo: number; totalInFlight: number } {
  return {
    now: 0,
    hasKey: true,
    hashHi: 0,
    hashLo: 0,
    maxInFlight: Number.POSITIVE_INFINITY,
    totalInFlight: 0,
    skipped: () => false,
  }
}

// 4096 distinct 64-byte keys, and their hashes, so lookups do not all hit one cached slot.
const KEY_COUNT = 4096
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `tenant-${String(i).padStart(6, '0')}:`.padEnd(64, 'x'))
const keyBytes = keys.map((k) => new TextEncoder().encode(k))
const his = new Uint32Array(KEY_COUNT)
const los = new Uint32Array(KEY_COUNT)
{
  const out = { hashHi: 0, hashLo: 0 }
  keys.forEach((k, i) => {
    hashKey(k, out)
    his[i] = out.hashHi
    los[i] = out.hashLo
  })
}

const ITERATIONS = 1_000_000
let sink = 0

function lookupNs(picker: Picker): Promise<number> {
  const c = context()
  return cpuNsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      const k = i & (KEY_COUNT - 1)
      c.hashHi = his[k]!
      c.hashLo = los[k]!
      sink += (picker.pick(c) as Fake).index
    }
  }, ITERATIONS)
}

function hashedLookupNs(picker: Picker): Promise<number> {
  const c = context()
  return cpuNsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      hashKey(keys[i & (KEY_COUNT - 1)]!, c)
      sink += (picker.pick(c) as Fake).index
    }
  }, ITERATIONS)
}

// --- lookups
const hashString = await cpuNsPerOp((n) => {
  const c = context()
  for (let i = 0; i < n; i++) {
    hashKey(keys[i & (KEY_COUNT - 1)]!, c)
    sink += c.hashLo
  }
}, ITERATIONS)
const shortKeys = Array.from({ length: KEY_COUNT }, (_, i) => `user:${String(i).padStart(11, '0')}`)
const hashShort = await cpuNsPerOp((n) => {
  const c = context()
  for (let i = 0; i < n; i++) {
    hashKey(shortKeys[i & (KEY_COUNT - 1)]!, c)
    sink += c.hashLo
  }
}, ITERATIONS)
const hashBytes = await cpuNsPerOp((n) => {
  const c = context()
  for (let i = 0; i < n; i++) {
    hashKey(keyBytes[i & (KEY_COUNT - 1)]!, c)
    sink += c.hashLo
  }
}, ITERATIONS)

const lookupRows: (string | number)[][] = []
for (const n of [10, 100, 1000]) {
  const list = fakeEndpoints(n)
  const rr = await lookupNs(build(roundRobin(), list))
  const ring = build(ringHash(), list)
  const mag = build(maglev(), list)
  lookupRows.push([
    n,
    fmt(await lookupNs(mag), 1),
    fmt(await hashedLookupNs(mag), 1),
    fmt(await lookupNs(ring), 1),
    fmt(await hashedLookupNs(ring), 1),
    fmt(rr, 1),
  ])
}

// --- builds
function buildMs(factory: () => PickerFactory, n: number): Promise<number> {
  const list = fakeEndpoints(n)
  return cpuMs(() => build(factory(), list))
}
const buildRows: (string | number)[][] = []
for (const n of [100, 500]) {
  buildRows.push([
    n,
    fmt(await buildMs(maglev, n), 2),
    fmt(await buildMs(ringHash, n), 2),
    n === 500 ? '≤ 10 ms (maglev)' : '',
  ])
}

// --- keys moved on removing one endpoint, averaged over every endpoint's removal
const MOVE_KEYS = 100_000
const moveHi = new Uint32Array(MOVE_KEYS)
const moveLo = new Uint32Array(MOVE_KEYS)
{
  const out = { hashHi: 0, hashLo: 0 }
  for (let k = 0; k < MOVE_KEYS; k++) {
    hashKey(`key-${k}`, out)
    moveHi[k] = out.hashHi
    moveLo[k] = out.hashLo
  }
}
function mapAll(picker: Picker): Int32Array {
  const c = context()
  const out = new Int32Array(MOVE_KEYS)
  for (let k = 0; k < MOVE_KEYS; k++) {
    c.hashHi = moveHi[k]!
    c.hashLo = moveLo[k]!
    out[k] = (picker.pick(c) as Fake).index
  }
  return out
}
function movement(factory: () => PickerFactory, n: number): { ratio: number; foreign: number; maxMean: number } {
  const list = fakeEndpoints(n)
  const base = mapAll(build(factory(), list))
  let moved = 0
  let foreign = 0
  for (let r = 0; r < n; r++) {
    const after = mapAll(
      build(
        factory(),
        list.filter((e) => e.index !== r),
      ),
    )
    for (let k = 0; k < MOVE_KEYS; k++) {
      if (after[k] === base[k]) continue
      moved++
      if (base[k] !== r) foreign++
    }
  }
  const counts = new Array<number>(n).fill(0)
  for (const i of base) counts[i]!++
  return {
    ratio: moved / n / MOVE_KEYS / (1 / n),
    foreign: foreign / n / MOVE_KEYS,
    maxMean: Math.max(...counts) / (MOVE_KEYS / n),
  }
}
const moveRows: (string | number)[][] = []
for (const [name, factory, goal] of [
  ['ring-hash', ringHash, '≤ 1.05×'],
  ['maglev', maglev, '≤ 2×'],
] as const) {
  for (const n of [10, 100]) {
    const m = movement(factory, n)
    moveRows.push([name, n, `${fmt(m.ratio, 3)}×`, `${fmt(m.foreign * 100, 2)}%`, fmt(m.maxMean, 3), goal])
  }
}

// Keys per endpoint over 1,000,000 keys at 100 endpoints.
function spread(factory: () => PickerFactory): number {
  const list = fakeEndpoints(100)
  const picker = build(factory(), list)
  const counts = new Array<number>(100).fill(0)
  const c = context()
  for (let k = 0; k < 1_000_000; k++) {
    hashKey(`key-${k}`, c)
    counts[(picker.pick(c) as Fake).index]!++
  }
  return Math.max(...counts) / 10_000
}
const spreadMaglev = spread(maglev)
const spreadRing = spread(ringHash)

// --- bounded load: a Zipf(1.1) key stream, attempts ending at random around a target load
function bounded(
  factory: (balanceFactor?: number) => PickerFactory,
  n: number,
  perEndpoint: number,
): { sticky: number; maxOverMean: number; plainMaxOverMean: number } {
  const run = (balanceFactor: number | undefined) => {
    const list = fakeEndpoints(n)
    const picker = build(factory(balanceFactor), list)
    const first = build(factory(), list)
    const nextKey = zipf(10_000, 1.1, 42)
    const random = seededRandom(9)
    const live: Fake[] = []
    const c = context()
    const out = { hashHi: 0, hashLo: 0 }
    let total = 0
    let sticky = 0
    let worst = 0
    const picks = 200_000
    const target = perEndpoint * n
    for (let i = 0; i < picks; i++) {
      hashKey(`session-${nextKey()}`, out)
      c.hashHi = out.hashHi
      c.hashLo = out.hashLo
      c.totalInFlight = total
      const chosen = picker.pick(c) as Fake
      if (chosen === first.pick(c)) sticky++
      chosen.inFlight++
      total++
      live.push(chosen)
      if (i > picks / 10) worst = Math.max(worst, chosen.inFlight / (total / n))
      while (live.length > target || (live.length > 0 && random() < live.length / (2 * target))) {
        const j = Math.floor(random() * live.length)
        const done = live[j]!
        live[j] = live[live.length - 1]!
        live.pop()
        done.inFlight--
        total--
      }
    }
    return { sticky: sticky / picks, worst }
  }
  const withBound = run(1.25)
  return { sticky: withBound.sticky, maxOverMean: withBound.worst, plainMaxOverMean: run(undefined).worst }
}
const boundRows: (string | number)[][] = []
for (const [name, factory] of [
  ['ring-hash', (balanceFactor?: number) => ringHash(balanceFactor === undefined ? {} : { balanceFactor })],
  ['maglev', (balanceFactor?: number) => maglev(balanceFactor === undefined ? {} : { balanceFactor })],
] as const) {
  for (const n of [10, 100]) {
    for (const perEndpoint of [2, 8, 32]) {
      const b = bounded(factory, n, perEndpoint)
      boundRows.push([
        name,
        n,
        perEndpoint,
        `${fmt(b.sticky * 100, 1)}%`,
        fmt(b.maxOverMean, 2),
        fmt(b.plainMaxOverMean, 2),
      ])
    }
  }
}

console.log(
  `Node ${process.version}; ${fmt(ITERATIONS)} lookups × 7 runs, median of the process's CPU time per op; 4,096 distinct 64-byte keys\n`,
)
console.log(
  `Hashing a key alone (xxHash64): 64-byte string ${fmt(hashString, 1)} ns, 64-byte Uint8Array ${fmt(hashBytes, 1)} ns, 16-byte string ${fmt(hashShort, 1)} ns\n`,
)
console.log(
  table(
    [
      'endpoints',
      'maglev ns (hash given)',
      'maglev ns (+ hash 64 B)',
      'ring-hash ns (hash given)',
      'ring-hash ns (+ hash 64 B)',
      'round-robin ns (baseline)',
    ],
    lookupRows,
  ),
)
console.log('\nGoals: maglev ≤ 60 ns, ring-hash ≤ 300 ns (hash given).\n')
console.log(table(['endpoints', 'maglev build ms', 'ring-hash build ms', 'goal'], buildRows))
console.log(
  `\nKeys moved on removing one endpoint (100,000 keys, averaged over every endpoint's removal; optimal = 1/N):\n`,
)
console.log(
  table(
    ['picker', 'endpoints', 'moved ÷ optimal', 'keys of others moved', 'max ÷ mean keys per endpoint', 'goal'],
    moveRows,
  ),
)
console.log(
  `\nKeys per endpoint over 1,000,000 keys at 100 endpoints, max ÷ mean: maglev ${fmt(spreadMaglev, 3)} (goal ≤ 1.07), ring-hash ${fmt(spreadRing, 3)}\n`,
)
console.log(
  'Bounded load, balanceFactor 1.25: Zipf(1.1) stream over 10,000 keys, 200,000 picks, in-flight held near the target per endpoint.',
)
console.log(
  'Sticky = share of picks on the key’s first choice; max ÷ mean = the chosen endpoint’s in-flight over the mean, worst pick after warm-up.\n',
)
console.log(
  table(
    ['picker', 'endpoints', 'in flight per endpoint', 'sticky', 'max ÷ mean (1.25)', 'max ÷ mean (no bound)'],
    boundRows,
  ),
)
if (sink === 0.5) console.log(sink)
