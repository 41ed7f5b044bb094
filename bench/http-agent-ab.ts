// keel's BalancerAgent in two keel trees side by side, interleaved in one process, with
// http.request over an in-memory socket (node:http's `Agent#createConnection` hands every
// connection a Duplex that answers `200 ok` on the next turn): no kernel networking and no server
// process, so the client CPU per request it reports is node:http's and keel's alone, and a busy
// machine disturbs it far less than a loopback run (docs/benchmarks.md, "node:http agents and
// global fetch"). Rows: a hand-rolled round-robin over three keep-alive Agents (Node's global-agent
// options), then per tree `BalancerAgent` over a round-robin and a default Balancer. CPU Δ is the
// median of per-round differences to the hand-rolled round-robin. With `--alloc`, it then counts
// the JS-heap bytes and objects each client allocates per request (V8's sampling heap profiler at
// a 1-byte interval, objects collected by GCs kept: every object counted, as bench/alloc.ts does),
// median of three runs; in memory, the count has none of a loopback run's timer and socket noise.
// Run: node bench/http-agent-ab.ts <tree A> <tree B> [--rounds 15] [--requests 10000] [--alloc]
//      (each tree a keel checkout with node_modules. The same path twice loads its modules once, so
//      its two rows differ by slice noise alone; a copy in a second directory is compiled apart)
import http from 'node:http'
import { Session } from 'node:inspector/promises'
import type { Duplex } from 'node:stream'
import { parseArgs } from 'node:util'
import { allocationPerRequest, cpuRounds, cpuTable } from './_ab.ts'
import { MEMORY_URLS, MemorySocket } from './_memory-socket.ts'
import { httpGet, median } from './lib.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '15' },
    requests: { type: 'string', default: '10000' },
    alloc: { type: 'boolean', default: false },
  },
})
const [dirA, dirB] = positionals
if (dirA === undefined || dirB === undefined) throw new Error('usage: node bench/http-agent-ab.ts <tree A> <tree B>')
const ROUNDS = Number(values.rounds)
const REQUESTS = Number(values.requests)
const CONCURRENCY = 32

// Every Agent's connections (the baseline's and keel's endpoint agents') are in-memory sockets.
;(http.Agent.prototype as unknown as { createConnection: () => Duplex }).createConnection = () => new MemorySocket(true)

const urls = MEMORY_URLS
const agentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const
const BASE = 'hand-rolled round-robin, 3 Agents'
const clients: [string, () => Promise<unknown>][] = []
const rrAgents = urls.map(() => new http.Agent(agentOptions))
let cursor = 0
clients.push([
  BASE,
  () => {
    const i = cursor++ % 3
    return httpGet(urls[i]!, rrAgents[i]!)
  },
])
for (const [tag, dir] of [
  ['A', dirA],
  ['B', dirB],
] as const) {
  const { Balancer } = await import(`${dir}/src/index.ts`)
  const { BalancerAgent } = await import(`${dir}/src/adapters/http-agent/index.ts`)
  const rr = new BalancerAgent(new Balancer({ endpoints: urls, picker: 'round-robin' }))
  clients.push([`${tag}: keel BalancerAgent, round-robin`, () => httpGet('http://service.internal/', rr)])
  const p2c = new BalancerAgent(new Balancer({ endpoints: urls }))
  clients.push([`${tag}: keel BalancerAgent, defaults`, () => httpGet('http://service.internal/', p2c)])
}

const cpu = await cpuRounds(clients, { rounds: ROUNDS, requests: REQUESTS, concurrency: CONCURRENCY, warmup: 3_000 })
console.log(
  `Node ${process.version}; ${ROUNDS} rounds of ${REQUESTS} requests per client, ${CONCURRENCY} concurrent, ` +
    `http.request over an in-memory socket; A = ${dirA}, B = ${dirB}\n`,
)
console.log(cpuTable(cpu, BASE, 'hand-rolled round-robin'))

if (values.alloc) {
  const session = new Session()
  session.connect()
  // Bytes and objects per request, median of three runs of 2,000 requests.
  const rows = new Map<string, [number, number]>()
  for (const [name, one] of clients) {
    const runs = []
    for (let i = 0; i < 3; i++) runs.push(await allocationPerRequest(session, one, 2_000, CONCURRENCY))
    rows.set(name, [median(runs.map((r) => r.bytes)), median(runs.map((r) => r.objects))])
  }
  const [baseBytes, baseObjects] = rows.get(BASE)!
  console.log('\n| client | bytes/req | objects/req | Δ bytes/req | Δ objects/req |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const [name, [bytes, objects]] of rows) {
    const delta =
      name === BASE ? ' |  | ' : ` | +${(bytes - baseBytes).toFixed(0)} | +${(objects - baseObjects).toFixed(1)}`
    console.log(`| ${name} | ${bytes.toFixed(0)} | ${objects.toFixed(1)}${delta} |`)
  }
}
process.exit(0)
