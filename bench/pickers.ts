/**
 * Pick cost of every eligible-scope picker at 10, 100 and 1,000 endpoints, and bytes allocated
 * per pick. Run: `node bench/pickers.ts` (Node 24), or on Node 22:
 * `npx -y -p node@22 node --experimental-strip-types bench/pickers.ts`.
 *
 * Endpoints are shaped like the balancer's own (`EndpointState`): real `PeakEwma` estimates of
 * 1–20 ms last sampled 0–100 ms before the `now` they are read at (steady traffic), in-flight
 * counts 0–3, and a context that tests skips by stamp, as
 * `EndpointSet` does. Random numbers come from `systemRandom`, the production default. Each figure
 * is the median of 7 timed runs of 2,000,000 picks after a warm-up; the baseline row is a bare
 * array rotation through the same loop.
 *
 * Allocation: after a warm-up the heap is collected, then 1,000,000 picks run while a
 * PerformanceObserver counts the garbage collections that start during them; with none,
 * heapUsed after − before bounds everything the picks allocated (16 bytes per pick would be a
 * boxed number per pick, and would trigger scavenges). A run that saw a collection is repeated
 * (best of three): a pick that allocates does so in every run.
 */
import { loadavg } from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { systemRandom } from '../src/internal/random.ts'
import { PeakEwma } from '../src/load/peak-ewma.ts'
import { type EndpointInfo, parseEndpoint } from '../src/model/endpoint.ts'
import type { PickContext, Picker, PickerEndpoint, PickerFactory } from '../src/model/picker.ts'
import { leastRequest } from '../src/pickers/least-request.ts'
import { p2cEwma } from '../src/pickers/p2c-ewma.ts'
import { randomPicker } from '../src/pickers/random.ts'
import { roundRobin } from '../src/pickers/round-robin.ts'
import { weightedRoundRobin } from '../src/pickers/weighted-round-robin.ts'
import { nsPerOp } from './lib.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const SIZES = [10, 100, 1_000] as const
const PICKS = 2_000_000
const RUNS = 7
const ALLOCATION_PICKS = 1_000_000
const NOW = 5_000

class BenchEndpoint implements PickerEndpoint {
  readonly endpoint: PickerEndpoint['endpoint']
  weight: number
  inFlight: number
  pickable = true
  skipStamp = 0
  readonly load: PeakEwma

  constructor(info: EndpointInfo, weight: number, inFlight: number, latencyMs: number, sampledAt: number) {
    this.endpoint = info as unknown as PickerEndpoint['endpoint']
    this.weight = weight
    this.inFlight = inFlight
    this.load = new PeakEwma(latencyMs, sampledAt, 10_000)
  }

  latencyMs(now: number): number {
    return this.load.loaded(now, this.inFlight)
  }
}

class BenchContext implements PickContext {
  now = NOW
  hasKey = false
  hashHi = 0
  hashLo = 0
  maxInFlight = Number.POSITIVE_INFINITY
  totalInFlight = 0
  stamp = 1

  skipped(endpoint: PickerEndpoint): boolean {
    return (endpoint as BenchEndpoint).skipStamp === this.stamp
  }
}

/** The floor of any picker: rotate through an array in the same loop. */
function baseline(): PickerFactory {
  return {
    name: 'baseline',
    build(endpoints) {
      let i = 0
      return {
        pick: () => {
          const e = endpoints[i]
          i = i + 1 === endpoints.length ? 0 : i + 1
          return e
        },
      }
    },
  }
}

interface Row {
  readonly label: string
  readonly factory: () => PickerFactory
  /** 'equal': all 1; 'integer': 1–5; 'fractional': 1–5 with fractions (as under slow start). */
  readonly weights: 'equal' | 'integer' | 'fractional'
  readonly goal: string
}

const ROWS: Row[] = [
  { label: 'baseline: array rotation', factory: baseline, weights: 'equal', goal: '' },
  { label: 'round-robin', factory: roundRobin, weights: 'equal', goal: '≤ 15 ns' },
  { label: 'weighted-round-robin (weights 1–5)', factory: weightedRoundRobin, weights: 'integer', goal: '' },
  {
    label: 'weighted-round-robin (fractional weights: heap)',
    factory: weightedRoundRobin,
    weights: 'fractional',
    goal: '',
  },
  { label: 'random', factory: randomPicker, weights: 'equal', goal: '' },
  { label: 'random (weights 1–5)', factory: randomPicker, weights: 'integer', goal: '' },
  { label: 'least-request', factory: () => leastRequest(), weights: 'equal', goal: '≤ 40 ns' },
  { label: 'least-request (weights 1–5)', factory: () => leastRequest(), weights: 'integer', goal: '' },
  { label: 'p2c-ewma', factory: p2cEwma, weights: 'equal', goal: '≤ 100 ns' },
]

/** A deterministic generator for the fixture (the picks themselves use `systemRandom`). */
function fixtureRandom(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function endpoints(n: number, weights: Row['weights']): BenchEndpoint[] {
  const r = fixtureRandom(n)
  const list: BenchEndpoint[] = []
  for (let i = 0; i < n; i++) {
    const info = parseEndpoint(`http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`)
    const weight = weights === 'equal' ? 1 : weights === 'integer' ? 1 + Math.floor(r() * 5) : 1 + r() * 4
    list.push(new BenchEndpoint(info, weight, Math.floor(r() * 4), 1 + r() * 20, NOW - r() * 100))
  }
  return list
}

function build(row: Row, n: number): Picker {
  return row.factory().build(endpoints(n, row.weights), {
    random: systemRandom,
    previous: undefined,
    warn: () => {},
  })
}

type Loop = (picker: Picker, context: BenchContext, count: number) => number

/**
 * A fresh copy of the timing loop for each measurement, so its `pick` call site only ever sees one
 * picker class (monomorphic, as in a balancer) instead of all of them (megamorphic).
 */
function freshLoop(): Loop {
  return new Function(
    'picker',
    'context',
    'count',
    'let acc = 0; for (let i = 0; i < count; i++) acc += picker.pick(context).inFlight; return acc',
  ) as Loop
}

let sink = 0

function nsPerPick(picker: Picker): Promise<number> {
  const loop = freshLoop()
  const context = new BenchContext()
  return nsPerOp(
    (n) => {
      sink += loop(picker, context, n)
    },
    PICKS,
    { runs: RUNS, warmup: PICKS },
  )
}

async function bytesPerPick(picker: Picker): Promise<{ bytes: number; gcs: number }> {
  const loop = freshLoop()
  const context = new BenchContext()
  // Warm up until the loop runs its final optimised code (tier-up allocates code, not picks).
  for (let i = 0; i < 3; i++) sink += loop(picker, context, ALLOCATION_PICKS)
  let gcs = 0
  let from = 0
  let to = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (entry.startTime >= from && entry.startTime <= to) gcs++
  })
  observer.observe({ entryTypes: ['gc'] })
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  const before = process.memoryUsage().heapUsed
  from = performance.now()
  sink += loop(picker, context, ALLOCATION_PICKS)
  to = performance.now()
  const after = process.memoryUsage().heapUsed
  // GC entries are delivered asynchronously: let them arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 50))
  observer.disconnect()
  return { bytes: Math.max(0, after - before) / ALLOCATION_PICKS, gcs }
}

const lines: string[] = []
const load = loadavg()[0]!.toFixed(1)
lines.push(
  `Node ${process.version}, ${process.arch}, ${PICKS.toLocaleString('en')} picks × ${RUNS} runs (median); load average at start ${load}`,
)
lines.push('')
lines.push('| picker | ns/pick @10 | @100 | @1,000 | bytes/pick (GCs) @10 / @100 / @1,000 | goal |')
lines.push('| --- | ---: | ---: | ---: | --- | --- |')
const only = process.env.PICKERS_BENCH_ONLY
for (const row of ROWS) {
  if (only !== undefined && !row.label.startsWith(only)) continue
  const ns: string[] = []
  const bytes: string[] = []
  for (const n of SIZES) {
    ns.push((await nsPerPick(build(row, n))).toFixed(1))
    // Best of three: a pick that allocates does so in every run; a stray collection does not.
    const picker = build(row, n)
    let allocation = await bytesPerPick(picker)
    for (let k = 0; k < 2 && allocation.gcs > 0; k++) {
      const again = await bytesPerPick(picker)
      if (again.gcs < allocation.gcs) allocation = again
    }
    bytes.push(`${allocation.bytes.toFixed(3)} (${allocation.gcs})`)
  }
  lines.push(`| ${row.label} | ${ns.join(' | ')} | ${bytes.join(' / ')} | ${row.goal} |`)
}
console.log(lines.join('\n'))
if (sink === 0.5) console.log(sink)
