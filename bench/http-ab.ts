// keel's undici path in two keel trees side by side, interleaved in one process, over an in-memory
// socket (undici's `connect` option hands each Pool a Duplex that answers `200 ok` on the next
// turn): no kernel networking and no server process, so the client CPU per request it reports
// is undici's and keel's alone, and a busy machine disturbs it far less than a loopback run
// (docs/benchmarks.md, "HTTP over loopback"). Rows: undici BalancedPool and a hand-rolled
// round-robin over three Pools (default options), then per tree `BalancerDispatcher` and
// `balancer.call` around `Pool.request`, each with a default Balancer. CPU Δ is the median of
// per-round differences to BalancedPool.
// Run: node bench/http-ab.ts <tree A> <tree B> [--rounds 15] [--requests 20000]
//      (each tree a keel checkout with node_modules; the same tree twice shows the noise)
import { parseArgs } from 'node:util'
import { BalancedPool, Pool } from 'undici'
import { cpuRounds, cpuTable } from './_ab.ts'
import { memoryConnect } from './_memory-socket.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '15' }, requests: { type: 'string', default: '20000' } },
})
const [dirA, dirB] = positionals
if (dirA === undefined || dirB === undefined) throw new Error('usage: node bench/http-ab.ts <tree A> <tree B>')
const ROUNDS = Number(values.rounds)
const REQUESTS = Number(values.requests)
const CONCURRENCY = 32

const connect = memoryConnect

const urls = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']
const get = { path: '/', method: 'GET' } as const
const clients: [string, () => Promise<unknown>][] = []
const balancedPool = new BalancedPool(urls, { connect })
clients.push(['undici BalancedPool', async () => (await balancedPool.request(get)).body.text()])
const pools = urls.map((url) => new Pool(url, { connect }))
let cursor = 0
clients.push(['hand-rolled round-robin, 3 Pools', async () => (await pools[cursor++ % 3]!.request(get)).body.text()])
const poolOf = new Map(urls.map((url, i) => [url, pools[i]!]))
for (const [tag, dir] of [
  ['A', dirA],
  ['B', dirB],
] as const) {
  const { Balancer } = await import(`${dir}/src/index.ts`)
  const { BalancerDispatcher } = await import(`${dir}/src/adapters/undici/index.ts`)
  const dispatcher = new BalancerDispatcher(new Balancer({ endpoints: urls }), { connect })
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

const cpu = await cpuRounds(clients, { rounds: ROUNDS, requests: REQUESTS, concurrency: CONCURRENCY, warmup: 5_000 })
console.log(
  `Node ${process.version}; ${ROUNDS} rounds of ${REQUESTS} requests per client, ${CONCURRENCY} concurrent, ` +
    'in-memory socket; A = ' +
    `${dirA}, B = ${dirB}\n`,
)
console.log(cpuTable(cpu, 'undici BalancedPool', 'BalancedPool'))
process.exit(0)
