// Footprint per request (docs/benchmarks.md, "What a request touches"): the instructions each
// client runs per request and the cache lines it misses, counted by valgrind's callgrind with
// its cache simulation, over the in-memory socket (bench/_memory-socket.ts). Over loopback keel's
// adapters cost several times the CPU their own instructions take alone: between two requests
// the kernel, fetch and the servers evict keel's code and data from the core's caches, so each
// request fetches them again. A simulated cache counts that without the machine's load in it. What
// still moves between two runs of one client (the A/A row: where V8 inlines what, whether the
// collector marks during the window, undici's wall-clock timers under valgrind's slow clock) is
// as large as keel's whole share, so the totals do not decide a few points either; the column
// for keel's own code (the functions under `src/`) is the part keel controls.
//
// Each client runs in its own process under valgrind, twice: `--warmup` requests, then 500 or
// 500 + `--requests` more. The difference between the two runs, divided by `--requests`, is the
// cost of one request in steady state, start-up and warm-up cancelled out. V8 optimises a
// function after `--tier-up` calls (TurboFan; Maglev after a fifth of them) instead of 3,000 and
// 400, and on the main thread (`--no-concurrent-recompilation`), so every function a request
// calls runs TurboFan's code after the warm-up, as in a long-running service, without tens of
// thousands of requests under valgrind. The JIT's code is named from V8's `--perf-basic-prof`
// map, so the costs are split by whose code runs: keel's (`src/`), the other JavaScript (Node.js's,
// undici's, the benchmark's), V8's builtins, the collector, the compilers, and the rest of the
// native code; `--top N` lists the functions whose misses moved most. `--l2 1024` simulates the
// last level as a core's L2 of 1 MiB (16-way, as AMD's Zen 5 has) and counts the lines that come
// from beyond it: how many of keel's own miss there depends on how much the client it wraps
// touches per request.
//
// Run: node bench/footprint.ts [--family fetch|undici] [--only createFetch] [--requests 1000]
//      [--warmup 1200] [--tier-up 400] [--top 0] [--l2 0]
// (about 3½ minutes per client on two cores; installs valgrind from Debian's packages when
// missing, root needed. `--only` keeps the baseline and the clients whose name contains it.)
import { spawn } from 'node:child_process'
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Agent, BalancedPool, Pool, setGlobalDispatcher } from 'undici'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { BalancerDispatcher } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { runCount } from './_ab.ts'
import { MEMORY_URLS, memoryConnect } from './_memory-socket.ts'
import { signed } from './lib.ts'
import { ensurePackages } from './proxies.ts'

const { values: args } = parseArgs({
  options: {
    family: { type: 'string', default: 'fetch' },
    requests: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '1200' },
    'tier-up': { type: 'string', default: '400' },
    only: { type: 'string' },
    top: { type: 'string', default: '0' },
    l2: { type: 'string', default: '0' },
    child: { type: 'string' },
    count: { type: 'string' },
  },
})
/** KiB of the simulated L2 (16-way, 64 B lines, a core's own); 0: callgrind's default last level. */
const L2_KIB = Number(args.l2)
if (!(L2_KIB === 0 || (Number.isInteger(Math.log2(L2_KIB)) && L2_KIB >= 64))) {
  throw new Error(`--l2: 0 or a power of two of at least 64 (KiB), not ${args.l2}`)
}
const CONCURRENCY = 32
const BASE_COUNT = 500
const URLS = MEMORY_URLS
const GET = { path: '/', method: 'GET' } as const

type Make = () => () => Promise<unknown>

function fetchRoundRobin(): () => Promise<unknown> {
  let cursor = 0
  return async () => (await fetch(`${URLS[cursor++ % 3]}/`)).text()
}

function balancedPool(): () => Promise<unknown> {
  const pool = new BalancedPool(URLS, { connect: memoryConnect })
  return async () => (await pool.request(GET)).body.text()
}

/** Per family: the baseline first, then what is compared with it. */
const FAMILIES: Record<string, [string, Make][]> = {
  fetch: [
    ['hand-rolled round-robin, global fetch', fetchRoundRobin],
    // The same client once more: how far two runs of one client land apart.
    ['hand-rolled round-robin, global fetch, a second one (the noise floor)', fetchRoundRobin],
    [
      'keel createFetch',
      () => {
        const balanced = createFetch(new Balancer({ endpoints: URLS }))
        return async () => (await balanced('/')).text()
      },
    ],
    [
      'keel balancer.call around global fetch',
      () => {
        const balancer = new Balancer({ endpoints: URLS })
        return () => balancer.call(async (endpoint) => (await fetch(endpoint.resolve('/'))).text())
      },
    ],
  ],
  undici: [
    ['undici BalancedPool', balancedPool],
    ['undici BalancedPool, a second one (the noise floor)', balancedPool],
    [
      'hand-rolled round-robin over three Pools',
      () => {
        const pools = URLS.map((url) => new Pool(url, { connect: memoryConnect }))
        let cursor = 0
        return async () => (await pools[cursor++ % 3]!.request(GET)).body.text()
      },
    ],
    [
      'keel BalancerDispatcher',
      () => {
        const dispatcher = new BalancerDispatcher(new Balancer({ endpoints: URLS }), { connect: memoryConnect })
        return async () => (await dispatcher.request({ ...GET, origin: 'http://users.internal' })).body.text()
      },
    ],
  ],
}

const chosen = FAMILIES[args.family]
if (chosen === undefined) throw new Error(`--family: one of ${Object.keys(FAMILIES).join(', ')}, not ${args.family}`)
const family: [string, Make][] = chosen.filter(
  ([name], i) => i === 0 || args.only === undefined || name.includes(args.only),
)

if (args.child !== undefined) {
  // Global fetch sends through undici's global dispatcher: here an Agent over the memory socket.
  setGlobalDispatcher(new Agent({ connect: memoryConnect }))
  const one = family.find(([name]) => name === args.child)![1]()
  await runCount(one, Number(args.warmup), CONCURRENCY)
  // Both runs of a client start their counted requests from a full collection: an incremental
  // marking under way in one of them would charge its write barriers to that run alone.
  ;(globalThis as { gc?: () => void }).gc?.()
  await runCount(one, Number(args.count), CONCURRENCY)
  process.exit(0)
}

/** Callgrind's events, in the order `--cache-sim=yes` writes them. */
const EVENTS = ['Ir', 'Dr', 'Dw', 'I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw'] as const
type Costs = number[]

const ORIGINS = [
  'keel (src/)',
  'other JavaScript (Node.js, undici, the benchmark)',
  'V8 builtins and interpreter',
  'collector',
  'compilers',
  'other native code',
] as const
type Origin = (typeof ORIGINS)[number]

interface CodeRange {
  readonly start: number
  readonly end: number
  /** The function, whatever its tier: `name file:line:column` for JavaScript, `Builtin:Name` for V8's. */
  readonly name: string
  readonly origin: Origin
}

/** A function's costs in one run, and whose code it is. */
interface FunctionCosts {
  readonly origin: Origin
  readonly costs: Costs
}

/** Whose code a `--perf-basic-prof` entry is. */
function jitOrigin(name: string): Origin {
  if (name.startsWith('JS:') || name.startsWith('Script:')) {
    return name.includes(`${process.cwd()}/src/`) ? 'keel (src/)' : 'other JavaScript (Node.js, undici, the benchmark)'
  }
  // `Builtin:Name`, `BytecodeHandler:Name`, …: V8's own code, named as its symbols are.
  return name.startsWith('Builtin:') ? nativeOrigin(name) : 'V8 builtins and interpreter'
}

/** Whose code a native function (named by its symbol) is. */
function nativeOrigin(name: string): Origin {
  // The write barrier's slow path only runs while the collector marks: the collector's cost.
  if (/^Builtin:RecordWrite|WriteBarrier|MarkingBarrier/.test(name)) return 'collector'
  if (name.startsWith('Builtin:')) return 'V8 builtins and interpreter'
  if (/compiler::|maglev::|turboshaft::|Turboshaft|Maglev|Compil|Assembler/.test(name)) return 'compilers'
  if (
    /Scaveng|Mark|Sweep|Evacuat|Compact|Barrier|Remembered|SlotSet|heap::|Heap::|MinorGC|GCTracer|Worklist/.test(name)
  ) {
    return 'collector'
  }
  return 'other native code'
}

function readCodeMap(path: string): CodeRange[] {
  const ranges: CodeRange[] = []
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const first = line.indexOf(' ')
    const second = line.indexOf(' ', first + 1)
    if (second === -1) continue
    const start = Number.parseInt(line.slice(0, first), 16)
    const entry = line.slice(second + 1)
    ranges.push({
      start,
      end: start + Number.parseInt(line.slice(first + 1, second), 16),
      // V8 marks the tier (`JS:*'name`, `JS:^name`, …): each tier's code counts for one function.
      name: entry.replace(/^(JS|Script):[*~^+]?'?/, ''),
      origin: jitOrigin(entry),
    })
  }
  return ranges.sort((a, b) => a.start - b.start)
}

function findRange(ranges: readonly CodeRange[], address: number): CodeRange | undefined {
  let low = 0
  let high = ranges.length - 1
  while (low <= high) {
    const mid = (low + high) >> 1
    const range = ranges[mid]!
    if (address < range.start) high = mid - 1
    else if (address >= range.end) low = mid + 1
    else return range
  }
  return undefined
}

/**
 * Self costs by function from a callgrind file written with `--dump-instr=yes`: each cost line
 * starts with its instruction's address (absolute, or relative to the previous one), so JIT code
 * is found in the code map; the line after `calls=` is a call's inclusive cost and is skipped.
 */
async function costsByFunction(outFile: string, ranges: readonly CodeRange[]): Promise<Map<string, FunctionCosts>> {
  const functions = new Map<string, FunctionCosts>()
  const names = new Map<string, string>()
  let native = ''
  let address = 0
  let skipNext = false
  const position = (token: string, previous: number): number =>
    token === '*'
      ? previous
      : token[0] === '+'
        ? previous + Number(token.slice(1))
        : token[0] === '-'
          ? previous - Number(token.slice(1))
          : Number(token)
  const nameOf = (line: string, prefix: number): string => {
    const close = line.indexOf(')')
    const id = line.slice(prefix + 1, close)
    if (close + 1 < line.length) names.set(id, line.slice(close + 2))
    return names.get(id) ?? ''
  }
  for await (const line of createInterface({ input: createReadStream(outFile, 'latin1'), crlfDelay: Infinity })) {
    const c = line.charCodeAt(0)
    // A cost line: a position (digit, +, -, *) then the events.
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      const fields = line.split(' ')
      address = position(fields[0]!, address)
      if (skipNext) {
        skipNext = false
        continue
      }
      const range = findRange(ranges, address)
      const name = range?.name ?? native
      let into = functions.get(name)
      if (into === undefined) {
        into = { origin: range?.origin ?? nativeOrigin(name), costs: EVENTS.map(() => 0) }
        functions.set(name, into)
      }
      // fields[1] is the source line: the events follow it.
      for (let i = 2; i < fields.length; i++) into.costs[i - 2]! += Number(fields[i])
    } else if (line.startsWith('fn=')) {
      // Builtins embedded in the binary are named by their symbol (`Builtins_LoadIC`), callgrind's
      // cycles with a suffix (`'2`): one name per function, as in the code map.
      native = nameOf(line, 3)
        .replace(/'\d+$/, '')
        .replace(/^Builtins_/, 'Builtin:')
    } else if (line.startsWith('cfn=')) {
      nameOf(line, 4)
    } else if (line.startsWith('calls=')) {
      skipNext = true
    }
  }
  return functions
}

/** The simulated caches (L1, and the last level with `--l2`), as callgrind describes them. */
let caches = ''

/** One run of `client` under callgrind: its costs by function. */
async function measure(client: string, count: number, dir: string): Promise<Map<string, FunctionCosts>> {
  const out = join(dir, `${family.findIndex(([name]) => name === client)}-${count}.out`)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        '--cache-sim=yes',
        ...(L2_KIB > 0 ? [`--LL=${L2_KIB * 1024},16,64`] : []),
        '--dump-instr=yes',
        `--callgrind-out-file=${out}`,
        process.execPath,
        // Node 22 runs TypeScript behind a flag.
        ...(process.features.typescript ? [] : ['--experimental-strip-types', '--no-warnings']),
        '--perf-basic-prof',
        // The code map is all this needs of V8's log, which would land in the working directory.
        '--no-logfile-per-isolate',
        '--logfile=/dev/null',
        '--expose-gc',
        '--no-concurrent-recompilation',
        `--invocation-count-for-turbofan=${args['tier-up']}`,
        `--invocation-count-for-maglev=${Math.ceil(Number(args['tier-up']) / 5)}`,
        '--predictable',
        '--random-seed=1',
        import.meta.filename,
        ...['--family', args.family, '--child', client, '--count', String(count), '--warmup', args.warmup],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let log = ''
    child.stderr.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000)
    })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`valgrind exited with ${code}:\n${log}`))))
  })
  // The header (pid, caches) is at the top of a file of tens of MB: read only that.
  const handle = openSync(out, 'r')
  const head = Buffer.alloc(4000)
  const header = head.toString('latin1', 0, readSync(handle, head, 0, head.length, 0))
  closeSync(handle)
  const pid = /^pid: (\d+)$/m.exec(header)?.[1]
  caches = [...header.matchAll(/^desc: (I1|D1|LL) cache: +(.*)$/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ')
  const map = `/tmp/perf-${pid}.map`
  try {
    return await costsByFunction(out, existsSync(map) ? readCodeMap(map) : [])
  } finally {
    rmSync(map, { force: true })
    rmSync(out, { force: true })
  }
}

ensurePackages('valgrind')

const REQUESTS = Number(args.requests)
const dir = mkdtempSync(join(tmpdir(), 'keel-footprint-'))
/** Per client, per function: its costs per request (the two runs' difference ÷ the requests between them). */
const perFunction = new Map<string, Map<string, FunctionCosts>>()
try {
  for (const [client] of family) {
    console.error(`measuring ${client}…`)
    const [low, high] = await Promise.all([
      measure(client, BASE_COUNT, dir),
      measure(client, BASE_COUNT + REQUESTS, dir),
    ])
    const slope = new Map<string, FunctionCosts>()
    for (const name of new Set([...low.keys(), ...high.keys()])) {
      const a = low.get(name)
      const b = high.get(name)
      const costs = EVENTS.map((_, i) => ((b?.costs[i] ?? 0) - (a?.costs[i] ?? 0)) / REQUESTS)
      slope.set(name, { origin: (b ?? a)!.origin, costs })
    }
    perFunction.set(client, slope)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
const perRequest = new Map<string, Map<Origin, Costs>>(
  [...perFunction].map(([client, functions]) => {
    const byOrigin = new Map<Origin, Costs>(ORIGINS.map((origin) => [origin, EVENTS.map(() => 0)]))
    for (const { origin, costs } of functions.values()) {
      const into = byOrigin.get(origin)!
      for (let i = 0; i < costs.length; i++) into[i]! += costs[i]!
    }
    return [client, byOrigin]
  }),
)

// The collector and the compilers are left out of the totals: a window of a few thousand requests
// holds a whole number of major collections and re-optimisations, so their share per request
// moves between two runs of the same client by more than keel's whole cost. The table by origin
// shows them.
const STEADY = ORIGINS.filter((origin) => origin !== 'collector' && origin !== 'compilers')
const sum = (costs: Map<Origin, Costs>, events: readonly number[], origins: readonly Origin[] = STEADY): number =>
  origins.reduce((total, origin) => total + events.reduce((n, e) => n + costs.get(origin)![e]!, 0), 0)
const I = [EVENTS.indexOf('Ir')]
const I1 = [EVENTS.indexOf('I1mr')]
const D1 = [EVENTS.indexOf('D1mr'), EVENTS.indexOf('D1mw')]
const L2I = [EVENTS.indexOf('ILmr')]
const L2D = [EVENTS.indexOf('DLmr'), EVENTS.indexOf('DLmw')]
/** keel's own code alone, for the tables' last column. */
const OWN: readonly Origin[] = ['keel (src/)']
const k = (n: number): string => Math.round(n).toLocaleString('en-US')
const base = perRequest.get(family[0]![0])!
const names = family.map(([name]) => name)

console.log(
  `\nNode ${process.version}, callgrind's simulated caches (${caches}); per request, from ` +
    `${REQUESTS.toLocaleString('en-US')} requests at ${CONCURRENCY} concurrent after ` +
    `${Number(args.warmup).toLocaleString('en-US')} of warm-up, over the in-memory socket. ` +
    'Totals without the collector and the compilers (see the table by origin).\n',
)
console.log(
  "| client | instructions | Δ | L1i misses | Δ | L1d misses | Δ | keel's own code: instructions / L1i / L1d misses |",
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const name of names) {
  const costs = perRequest.get(name)!
  const cells = [I, I1, D1].flatMap((events) => {
    const v = sum(costs, events)
    return [k(v), costs === base ? '' : signed(v - sum(base, events), 0)]
  })
  const keel = costs === base ? '' : [I, I1, D1].map((events) => k(sum(costs, events, OWN))).join(' / ')
  console.log(`| ${name} | ${cells.join(' | ')} | ${keel} |`)
}
if (L2_KIB > 0) {
  // A line that misses the L2 comes from the shared L3 or from memory, several times slower than
  // one the L2 holds (docs/benchmarks.md, "What a request touches").
  console.log(`\nLines per request from beyond a ${L2_KIB} KiB L2, code / data (totals as above):\n`)
  console.log("| client | whole request | Δ | keel's own code |\n| --- | ---: | ---: | ---: |")
  for (const name of names) {
    const costs = perRequest.get(name)!
    const pair = (origins?: readonly Origin[]) => [L2I, L2D].map((events) => sum(costs, events, origins))
    const whole = pair()
    const delta = [L2I, L2D].map((events, i) => signed(whole[i]! - sum(base, events), 0)).join(' / ')
    const keel = pair(OWN).map(k).join(' / ')
    console.log(
      `| ${name} | ${whole.map(k).join(' / ')} | ${costs === base ? '' : delta} | ${costs === base ? '' : keel} |`,
    )
  }
}
console.log(`\nΔ by whose code runs, against ${names[0]} (instructions / L1i misses / L1d misses per request):\n`)
console.log(`| origin | ${names.slice(1).join(' | ')} |`)
console.log(
  `| --- |${names
    .slice(1)
    .map(() => ' ---: |')
    .join('')}`,
)
for (const origin of ORIGINS) {
  const cells = names.slice(1).map((name) => {
    const costs = perRequest.get(name)!
    return [I, I1, D1]
      .map((events) => signed(sum(costs, events, [origin]) - sum(base, events, [origin]), 0))
      .join(' / ')
  })
  console.log(`| ${origin} | ${cells.join(' | ')} |`)
}

// `--top N`: the functions whose L1i misses changed most against the baseline, per client.
const TOP = Number(args.top)
const baseFunctions = perFunction.get(names[0]!)!
for (const name of TOP > 0 ? names.slice(1) : []) {
  const functions = perFunction.get(name)!
  const none = EVENTS.map(() => 0)
  const rows = [...new Set([...functions.keys(), ...baseFunctions.keys()])]
    .map((fn) => {
      const c = functions.get(fn)?.costs ?? none
      const b = baseFunctions.get(fn)?.costs ?? none
      return { fn, d: EVENTS.map((_, i) => c[i]! - b[i]!) }
    })
    .sort((x, y) => Math.abs(y.d[I1[0]!]!) - Math.abs(x.d[I1[0]!]!))
    .slice(0, TOP)
  // With `--l2`, each row also gives the lines from beyond the L2, code and data.
  const columns = L2_KIB > 0 ? [I, I1, D1, L2I, L2D] : [I, I1, D1]
  const beyond = L2_KIB > 0 ? ' / code and data lines from beyond the L2' : ''
  console.log(
    `\n${name}: the ${TOP} functions whose L1i misses moved most (Δ instructions / L1i / L1d misses${beyond} per request):\n`,
  )
  console.log('| function | Δ |\n| --- | ---: |')
  for (const { fn, d } of rows) {
    console.log(
      `| ${fn.replace(`file://${process.cwd()}/`, '')} | ${columns
        .map((e) =>
          signed(
            e.reduce((n, i) => n + d[i]!, 0),
            0,
          ),
        )
        .join(' / ')} |`,
    )
  }
}
