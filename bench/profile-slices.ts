// Where keel's extra CPU per request goes, function by function, against the client a user would
// pick instead — measured so that a machine whose speed changes cannot fake a difference.
//
// Both clients (and their variants) run in ONE child process under V8's CPU profiler, taking turns
// in 250 ms slices in a balanced order (bench/_rounds.ts), 32 requests in flight, against three
// nginx backends on 127.0.0.1. Each profile sample is charged to the client whose slice it fell
// in, and divided by that client's requests: µs per request per function. Two profiles taken one
// after the other cannot be compared this way on this VM: its host at times runs a core at half
// speed, and then every function of the second run looks slower (docs/benchmarks.md, "Adapter
// cost").
//
// Family `undici-memory` runs the undici clients over an in-memory socket instead
// (bench/_memory-socket.ts): no kernel networking, no nginx in the samples' way, so what is left
// is undici's and keel's own work, and the collector's. Family `fetch-memory` does the same for
// global fetch: its global dispatcher becomes an undici `Agent` over the in-memory socket.
//
// Each function's row gives its µs per request for the client, for the baseline (the family's
// first client), and the difference, so a function inlined into another in one client's code
// but not the other's shows as moved rather than as new cost. With `--by origin` the rows are
// whose code it is instead (each keel file, undici, the rest of Node.js, V8's builtins, the
// collector): whether keel's extra is keel's own functions or the client's running slower beside
// them.
//
// Run: node bench/profile-slices.ts [--family undici|undici-memory|fetch|fetch-memory|agent] [--rounds 24] [--top 25] [--by function|origin]
// (about 30 s). Installs nginx from Debian's packages when missing (needs root), like the other
// loopback benches.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Agent, BalancedPool, Pool, setGlobalDispatcher } from 'undici'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { BalancerAgent } from '../src/adapters/http-agent/index.ts'
import { BalancerDispatcher } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { MEMORY_URLS, memoryConnect } from './_memory-socket.ts'
import { roundOrder } from './_rounds.ts'
import { httpGet, latencies } from './lib.ts'
import { ensureProxies, okBackends } from './proxies.ts'

const { values: args } = parseArgs({
  options: {
    family: { type: 'string', default: 'undici' },
    rounds: { type: 'string', default: '24' },
    top: { type: 'string', default: '25' },
    by: { type: 'string', default: 'function' },
    child: { type: 'string' },
  },
})
const SLICE_MS = 250
const CONCURRENCY = 32

type Make = (urls: string[]) => () => Promise<unknown>

const GET = { path: '/', method: 'GET' } as const
const SERVICE_GET = { ...GET, origin: 'http://users.internal' }

/** undici's `connect` option handing each connection an in-memory server (family `undici-memory`). */
const inMemory = memoryConnect

function dispatcher(picker: 'p2c-ewma' | 'round-robin', memory = false): Make {
  return (urls) => {
    const balancer = new Balancer({ endpoints: memory ? MEMORY_URLS : urls, picker })
    const d = new BalancerDispatcher(balancer, memory ? { connect: inMemory } : {})
    return async () => (await d.request(SERVICE_GET)).body.text()
  }
}

function handRolled(options: http.AgentOptions): Make {
  return (urls) => {
    const agents = urls.map(() => new http.Agent(options))
    let cursor = 0
    return () => {
      const i = cursor++ % 3
      return httpGet(`${urls[i]}/`, agents[i]!)
    }
  }
}

function balancerAgent(picker: 'p2c-ewma' | 'round-robin'): Make {
  return (urls) => {
    const agent = new BalancerAgent(new Balancer({ endpoints: urls, picker }))
    return () => httpGet('http://users.internal/', agent)
  }
}

/** Per family: the baseline first, then what is compared with it. */
/** Global fetch sent round-robin by hand, and keel's createFetch, over `urls`. */
const FETCH_CLIENTS: [string, Make][] = [
  [
    'hand-rolled round-robin, global fetch',
    (urls) => {
      let cursor = 0
      return async () => (await fetch(`${urls[cursor++ % 3]}/`)).text()
    },
  ],
  [
    'keel createFetch (global fetch)',
    (urls) => {
      const balanced = createFetch(new Balancer({ endpoints: urls }))
      return async () => (await balanced('/')).text()
    },
  ],
  [
    'keel balancer.call around global fetch',
    (urls) => {
      const balancer = new Balancer({ endpoints: urls })
      return () => balancer.call(async (endpoint) => (await fetch(endpoint.resolve('/'))).text())
    },
  ],
  [
    'hand-rolled round-robin, global fetch, each request after a `balancer.call` that does nothing',
    (urls) => {
      const balancer = new Balancer({ endpoints: urls })
      const nothing = () => 0
      let cursor = 0
      return async () => {
        await balancer.call(nothing)
        return (await fetch(`${urls[cursor++ % 3]}/`)).text()
      }
    },
  ],
]

const FAMILIES: Record<string, [string, Make][]> = {
  undici: [
    [
      'undici BalancedPool',
      (urls) => {
        const pool = new BalancedPool(urls)
        return async () => (await pool.request(GET)).body.text()
      },
    ],
    ['keel BalancerDispatcher (p2c-ewma)', dispatcher('p2c-ewma')],
    ['keel BalancerDispatcher (round-robin)', dispatcher('round-robin')],
  ],
  'undici-memory': [
    [
      'undici BalancedPool',
      () => {
        const pool = new BalancedPool(MEMORY_URLS, { connect: inMemory })
        return async () => (await pool.request(GET)).body.text()
      },
    ],
    [
      'keel balancer.call around Pool.request',
      () => {
        const balancer = new Balancer({ endpoints: MEMORY_URLS })
        const pools = new Map(MEMORY_URLS.map((url) => [url, new Pool(url, { connect: inMemory })]))
        return () => balancer.call(async (e) => (await pools.get(e.origin)!.request(GET)).body.text())
      },
    ],
    ['keel BalancerDispatcher (p2c-ewma)', dispatcher('p2c-ewma', true)],
    ['keel BalancerDispatcher (round-robin)', dispatcher('round-robin', true)],
  ],
  fetch: FETCH_CLIENTS,
  // The same clients over the in-memory socket: `child` installs the global dispatcher and gives
  // them the in-memory URLs.
  'fetch-memory': FETCH_CLIENTS,
  agent: [
    [
      'hand-rolled 3 Agents (Node global-agent options)',
      handRolled({ keepAlive: true, scheduling: 'lifo', timeout: 5_000 }),
    ],
    ['hand-rolled 3 Agents (keep-alive only)', handRolled({ keepAlive: true })],
    ['keel BalancerAgent (p2c-ewma)', balancerAgent('p2c-ewma')],
    ['keel BalancerAgent (round-robin)', balancerAgent('round-robin')],
  ],
}

interface TimedSlice {
  readonly client: string
  /** Start and end on the profiler's clock (µs, monotonic). */
  readonly from: number
  readonly to: number
  readonly requests: number
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/** The child: runs the family's clients in slices (in `roundOrder`) and writes when each slice ran. */
async function child(family: string, out: string): Promise<void> {
  const memoryFetch = family === 'fetch-memory'
  // Global fetch sends through undici's global dispatcher: in memory, an Agent over the memory socket.
  if (memoryFetch) setGlobalDispatcher(new Agent({ connect: inMemory }))
  const urls = memoryFetch ? MEMORY_URLS : (JSON.parse(process.env.KEEL_PROFILE_URLS ?? '[]') as string[])
  const clients = FAMILIES[family]!.map(([name, make]) => [name, make(urls)] as const)
  for (const [, one] of clients) await latencies(one, CONCURRENCY, 500)
  const slices: TimedSlice[] = []
  const rounds = Number(args.rounds)
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(clients.length, round)) {
      const [client, one] = clients[i]!
      const from = nowUs()
      const requests = (await latencies(one, CONCURRENCY, SLICE_MS)).length
      slices.push({ client, from, to: nowUs(), requests })
    }
  }
  writeFileSync(out, JSON.stringify(slices))
  process.exit(0)
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ProfileNode[]
  readonly startTime: number
  readonly samples: number[]
  readonly timeDeltas: number[]
}

/**
 * The row a sample is charged to: its function (`name file:line`), or with `--by origin` whose code
 * it is. Bundled undici's frames are `node:internal/deps/undici/…`, its parser WebAssembly.
 */
function rowOf(frame: ProfileNode['callFrame']): string {
  const { functionName, url } = frame
  const file = url.slice(url.lastIndexOf('/') + 1)
  if (args.by !== 'origin') return `${functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`
  if (functionName.startsWith('(')) return functionName
  // keel's own files only: a dependency may keep its code under a `src/` folder too.
  if (url.includes('/src/') && !url.includes('/node_modules/')) return `keel ${file}`
  if (url.includes('undici') || url.startsWith('wasm:')) return 'undici'
  if (url.startsWith('node:')) return 'Node.js (node:)'
  if (url === '') return 'V8 and native builtins'
  return `other ${file}`
}

/** µs per request by row (`rowOf`), per client. */
function attribute(profile: Profile, slices: readonly TimedSlice[]): Map<string, Map<string, number>> {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const requests = new Map<string, number>()
  for (const s of slices) requests.set(s.client, (requests.get(s.client) ?? 0) + s.requests)
  const byClient = new Map<string, Map<string, number>>()
  let t = profile.startTime
  let slice = 0
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!
    while (slice < slices.length && slices[slice]!.to < t) slice++
    const current = slices[slice]
    if (current === undefined || t < current.from) continue
    const frame = frames.get(profile.samples[i]!)!
    if (frame.functionName === '(idle)') continue
    const key = rowOf(frame)
    let table = byClient.get(current.client)
    if (table === undefined) byClient.set(current.client, (table = new Map()))
    table.set(key, (table.get(key) ?? 0) + profile.timeDeltas[i]! / requests.get(current.client)!)
  }
  return byClient
}

function report(byClient: Map<string, Map<string, number>>, names: readonly string[], top: number): void {
  const total = (name: string) => [...(byClient.get(name)?.values() ?? [])].reduce((a, b) => a + b, 0)
  const [baseline, ...others] = names
  console.log('| client | main-thread CPU µs/req (profiled) | Δ |\n| --- | ---: | ---: |')
  for (const name of names) {
    const delta = name === baseline ? '' : `${(total(name) - total(baseline!)).toFixed(2)}`
    console.log(`| ${name} | ${total(name).toFixed(2)} | ${delta} |`)
  }
  const base = byClient.get(baseline!) ?? new Map<string, number>()
  for (const name of others) {
    const own = byClient.get(name) ?? new Map<string, number>()
    const keys = new Set([...base.keys(), ...own.keys()])
    const rows = [...keys].map((k) => [k, own.get(k) ?? 0, base.get(k) ?? 0] as const)
    rows.sort((a, b) => b[1] - b[2] - (a[1] - a[2]))
    const what = args.by === 'origin' ? 'origins' : 'functions'
    console.log(`\n${name} − ${baseline}: the ${top} ${what} that cost it most (µs per request)\n`)
    console.log(`| ${what.slice(0, -1)} | µs/req | baseline | Δ |\n| --- | ---: | ---: | ---: |`)
    for (const [k, o, b] of rows.slice(0, top)) {
      console.log(`| \`${k}\` | ${o.toFixed(3)} | ${b.toFixed(3)} | ${(o - b).toFixed(3)} |`)
    }
  }
}

async function main(): Promise<void> {
  const family = args.family!
  if (args.by !== 'function' && args.by !== 'origin') throw new Error(`--by must be function or origin, not ${args.by}`)
  if (FAMILIES[family] === undefined) throw new Error(`--family must be one of ${Object.keys(FAMILIES).join(', ')}`)
  ensureProxies()
  const dir = mkdtempSync(join(tmpdir(), 'keel-profile-slices-'))
  const load = loadavg().map((l) => l.toFixed(2))
  let nginx: ChildProcess | undefined
  try {
    const urls = await okBackends(dir, (child) => {
      nginx = child
    })
    const out = join(dir, 'slices.json')
    const profiles = join(dir, 'profiles')
    const self = fileURLToPath(import.meta.url)
    const run = spawn(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profiles}`, self, '--child', out, '--family', family, '--rounds', args.rounds!],
      {
        stdio: 'inherit',
        env: { ...process.env, KEEL_PROFILE_URLS: JSON.stringify(urls) },
      },
    )
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve))
    if (code !== 0) throw new Error(`the profiled child exited with ${code}`)
    const [file] = readdirSync(profiles)
    const profile = JSON.parse(readFileSync(join(profiles, file!), 'utf8')) as Profile
    const slices = JSON.parse(readFileSync(out, 'utf8')) as TimedSlice[]
    console.log(
      `Node ${process.version}; family ${family}; ${args.rounds} rounds of ${SLICE_MS} ms per client in a balanced order, ${CONCURRENCY} in flight, one process under --cpu-prof; load average ${load.join(', ')} → ${loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}\n`,
    )
    report(
      attribute(profile, slices),
      FAMILIES[family]!.map(([name]) => name),
      Number(args.top),
    )
  } finally {
    nginx?.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
}

if (args.child !== undefined) await child(args.family!, args.child)
else await main()
