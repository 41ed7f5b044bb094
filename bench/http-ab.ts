// keel's undici path in two keel trees side by side, interleaved in one process, over an in-memory
// socket (undici's `connect` option hands each Pool a Duplex that answers `200 ok` on the next
// turn): no kernel networking and no server process, so the client CPU per request it reports
// is undici's and keel's alone, and a busy machine disturbs it far less than a loopback run
// (docs/benchmarks.md, "HTTP over loopback"). Rows: undici BalancedPool and a hand-rolled
// round-robin over three Pools (default options), then per tree `BalancerDispatcher` and
// `balancer.call` around `Pool.request`, each with a default Balancer. CPU Δ is the median of
// per-round differences to BalancedPool.
//
// `--thrash N`: every client first reads and writes N random cache lines of an 8 MiB buffer per
// request, the same for all. Over loopback the kernel, the servers and a busy client evict what
// a request left in the cache before the next one needs it; in memory little does. With 512 lines
// (30 rounds, Node 24) the dispatcher's extra over BalancedPool went from +0.5 to +2.3 and +3.3 µs
// per request: what keel costs over loopback depends on how many cache lines a request touches,
// not only on its instructions (docs/benchmarks.md, "Where the adapters stand").
//
// `--loopback`: the same rows against three nginx backends on 127.0.0.1 (1 worker, `return 200
// 'ok'`, as in bench/http.ts) instead of the in-memory socket, with req/s beside the CPU. This is
// the test of a change that shows in memory: whether it moves what `bench/http.ts` reports.
// Run: node bench/http-ab.ts <tree A> <tree B> [--rounds 15] [--requests 20000] [--thrash 0] [--loopback]
//      (each tree a keel checkout with node_modules. The same path twice loads its modules once, so
//      its two rows differ by slice noise alone; a copy in a second directory is compiled apart)
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BalancedPool, Pool } from 'undici'
import { cpuRounds, cpuTable } from './_ab.ts'
import { MEMORY_URLS, memoryConnect } from './_memory-socket.ts'
import { ensureProxies, okBackends } from './proxies.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '15' },
    requests: { type: 'string', default: '20000' },
    thrash: { type: 'string', default: '0' },
    loopback: { type: 'boolean', default: false },
  },
})
const [dirA, dirB] = positionals
if (dirA === undefined || dirB === undefined) throw new Error('usage: node bench/http-ab.ts <tree A> <tree B>')
const ROUNDS = Number(values.rounds)
const REQUESTS = Number(values.requests)
const THRASH = Number(values.thrash)
const CONCURRENCY = 32

/** 8 MiB, many times a core's L2 (this VM does not report its caches); touched a line at a time. */
const pressure = new Float64Array(THRASH > 0 ? (8 << 20) / 8 : 0)
let seed = 1
/** Touches `THRASH` pseudo-random cache lines (an LCG: no allocation, the same for every client). */
function thrash(): void {
  for (let i = 0; i < THRASH; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    pressure[(seed % (pressure.length >> 3)) << 3]! += 1
  }
}

const LOOPBACK = values.loopback

let nginx: ChildProcess | undefined
const dir = LOOPBACK ? mkdtempSync(join(tmpdir(), 'keel-bench-http-ab-')) : ''
/** Three nginx backends on 127.0.0.1, as bench/http.ts runs them. */
async function backends(): Promise<string[]> {
  ensureProxies()
  return okBackends(dir, (child) => {
    nginx = child
  })
}
function stop(): void {
  nginx?.kill()
  if (LOOPBACK) rmSync(dir, { recursive: true, force: true })
}
process.once('exit', stop)

/** Every Pool's options: undici's defaults, plus the in-memory socket unless over loopback. */
const poolOptions = LOOPBACK ? {} : { connect: memoryConnect }
const urls = LOOPBACK ? await backends() : MEMORY_URLS
const startLoad = loadavg()
  .map((l) => l.toFixed(2))
  .join(', ')
const get = { path: '/', method: 'GET' } as const
const clients: [string, () => Promise<unknown>][] = []
const balancedPool = new BalancedPool(urls, poolOptions)
clients.push(['undici BalancedPool', async () => (await balancedPool.request(get)).body.text()])
const pools = urls.map((url) => new Pool(url, poolOptions))
let cursor = 0
clients.push(['hand-rolled round-robin, 3 Pools', async () => (await pools[cursor++ % 3]!.request(get)).body.text()])
const poolOf = new Map(urls.map((url, i) => [url, pools[i]!]))
for (const [tag, dir] of [
  ['A', dirA],
  ['B', dirB],
] as const) {
  const { Balancer } = await import(`${dir}/src/index.ts`)
  const { BalancerDispatcher } = await import(`${dir}/src/adapters/undici/index.ts`)
  const dispatcher = new BalancerDispatcher(new Balancer({ endpoints: urls }), poolOptions)
  const origin = { ...get, origin: 'http://service.internal' }
  clients.push([`${tag}: keel BalancerDispatcher`, async () => (await dispatcher.request(origin)).body.text()])
  const balancer = new Balancer({ endpoints: urls })
  clients.push([
    `${tag}: keel balancer.call around Pool.request`,
    () =>
      balancer.call(async (endpoint: { origin: string }) =>
        (await poolOf.get(endpoint.origin)!.request(get)).body.text(),
      ),
  ])
}

const measured: typeof clients =
  THRASH > 0
    ? clients.map(([name, one]) => [
        name,
        () => {
          thrash()
          return one()
        },
      ])
    : clients
const rates = LOOPBACK ? new Map<string, number[]>() : undefined
const cpu = await cpuRounds(
  measured,
  { rounds: ROUNDS, requests: REQUESTS, concurrency: CONCURRENCY, warmup: 5_000 },
  rates,
)
console.log(
  `Node ${process.version}; ${ROUNDS} rounds of ${REQUESTS} requests per client, ${CONCURRENCY} concurrent, ` +
    `${LOOPBACK ? 'three nginx backends on 127.0.0.1 (1 worker)' : 'in-memory socket'}` +
    `${THRASH > 0 ? `, ${THRASH} cache lines touched before each request` : ''}; load average ${startLoad} at the ` +
    `start; A = ${dirA}, B = ${dirB}\n`,
)
console.log(cpuTable(cpu, 'undici BalancedPool', 'BalancedPool', rates))
process.exit(0)
