// Allocation per request (docs/benchmarks.md#http-over-loopback): bytes and objects each keel
// adapter allocates per request, next to the plain client it wraps, over loopback.
//
// How: V8's sampling heap profiler through the inspector (`HeapProfiler.startSampling`), with
// objects later collected by minor and major GCs kept in the profile, so short-lived garbage
// counts. With `--interval 1` (the default) every allocation is sampled: a sample's scale factor
// 1/(1 − e^(−size/interval)) is 1 for any object (≥ 8 bytes), so `objects` is the exact number of
// V8 heap objects allocated and `bytes` their size. The count covers the JS heap only: Buffer
// contents (off-heap) and native memory are not in it. The servers run in a child process so only
// the client's allocations are counted; each client is warmed up first (JIT, connections), then
// a fixed number of requests at a fixed concurrency is profiled, and the median of three runs is
// reported.
//
// Run: node bench/alloc.ts [--requests 400] [--concurrency 8] [--interval 1] [--runs 3] [--only undici]
// (`--only` keeps the clients whose name contains the word, e.g. `undici`, `fetch`, `axios`, `gRPC`).
//
// With `--survival` it measures what the requests leave to the young-generation collector instead
// (docs/benchmarks.md#what-a-request-leaves-to-the-collector), from `v8.GCProfiler`: per request, the bytes scavenges
// copied (survivors kept in the young generation plus those promoted to the old one), the time
// spent in all collections, and scavenges per 1,000 requests. Allocation alone does not set that
// cost: a scavenge copies what is still reachable, so objects a finished request leaves reachable
// (from a handler or closure someone keeps) are copied, however few bytes they are. Its defaults
// are 20,000 requests at 32 concurrent, enough for tens of scavenges per run.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { Session } from 'node:inspector/promises'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { GCProfiler } from 'node:v8'
import {
  credentials,
  type Client as GrpcJsClient,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import axios from 'axios'
import { BalancedPool, Pool } from 'undici'
import { axiosAdapter } from '../src/adapters/axios/index.ts'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { createGrpcClient, unary } from '../src/adapters/grpc/index.ts'
import { BalancerAgent } from '../src/adapters/http-agent/index.ts'
import { BalancerDispatcher, OriginRouter } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { allocationPerRequest, runCount } from './_ab.ts'
import { httpGet, median, signed } from './lib.ts'

const args = process.argv.slice(2)
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(args[i + 1])
}
const SURVIVAL = args.includes('--survival')
const REQUESTS = arg('requests', SURVIVAL ? 20_000 : 400)
const CONCURRENCY = arg('concurrency', SURVIVAL ? 32 : 8)
const INTERVAL = arg('interval', 1)
const RUNS = arg('runs', 3)
const WARMUP = 400
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]!.toLowerCase() : undefined

const proto = new URL('../test/fixtures/grpc/echo.proto', import.meta.url).pathname
// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const Echo = (loadPackageDefinition(loadSync(proto)) as any).keel.test.Echo as ServiceClientConstructor

/** Child mode: three node:http servers answering `200 ok` and three gRPC Echo servers; prints their ports. */
async function serve(): Promise<void> {
  const httpPorts: number[] = []
  for (let i = 0; i < 3; i++) {
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain')
      res.end('ok')
    })
    server.keepAliveTimeout = 60_000
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    httpPorts.push((server.address() as { port: number }).port)
  }
  const grpcPorts: number[] = []
  for (let i = 0; i < 3; i++) {
    const server = new Server()
    server.addService(Echo.service, {
      Unary: (call: { request: { id: string } }, callback: (e: null, r: object) => void) =>
        callback(null, { id: call.request.id, message: '', server: String(i), index: 0 }),
    })
    grpcPorts.push(
      await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      ),
    )
  }
  console.log(JSON.stringify({ httpPorts, grpcPorts }))
  // Exits with its parent.
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

/** One adapter or plain client: `one()` sends a request and reads its response whole. */
interface Subject {
  readonly name: string
  /** The plain client this one wraps (its row's Δ is taken against it); undefined for a baseline. */
  readonly wraps?: string
  readonly one: () => Promise<unknown>
}

interface Allocation {
  bytes: number
  objects: number
}

/** One profiled run of `one` (`REQUESTS` requests, `CONCURRENCY` at a time). */
function profile(session: Session, one: () => Promise<unknown>): Promise<Allocation> {
  return allocationPerRequest(session, one, REQUESTS, CONCURRENCY, INTERVAL)
}

/** What `REQUESTS` requests of `one` left to the collector, per request. */
interface Survival {
  /** Bytes copied by scavenges: kept in the young generation or promoted to the old one. */
  copied: number
  /** µs in all collections. */
  gc: number
  /** Scavenges per 1,000 requests. */
  scavenges: number
}

/** `GCProfiler`'s space entries: camel-cased at run time, whatever @types/node says. */
interface SpaceEntry {
  spaceName: string
  spaceUsedSize: number
}

function spaceUsed(spaces: unknown, name: string): number {
  return (spaces as SpaceEntry[]).find((space) => space.spaceName === name)?.spaceUsedSize ?? 0
}

async function survival(one: () => Promise<unknown>): Promise<Survival> {
  const profiler = new GCProfiler()
  profiler.start()
  await runCount(one, REQUESTS, CONCURRENCY)
  let copied = 0
  let gc = 0
  let scavenges = 0
  for (const { gcType, cost, beforeGC, afterGC } of profiler.stop().statistics) {
    gc += cost
    if (gcType !== 'Scavenge') continue
    scavenges++
    const before = beforeGC.heapSpaceStatistics
    const after = afterGC.heapSpaceStatistics
    copied += spaceUsed(after, 'new_space') + spaceUsed(after, 'old_space') - spaceUsed(before, 'old_space')
  }
  return { copied: copied / REQUESTS, gc: gc / REQUESTS, scavenges: (scavenges * 1000) / REQUESTS }
}

/** The runs go round all clients in turn: the median of `RUNS` runs per client. */
async function rounds<T>(
  chosen: readonly Subject[],
  run: (one: () => Promise<unknown>) => Promise<T>,
): Promise<Map<string, T[]>> {
  const runs = new Map<string, T[]>(chosen.map((s) => [s.name, []]))
  for (let i = 0; i < RUNS; i++) {
    for (const subject of chosen) runs.get(subject.name)!.push(await run(subject.one))
    console.error(`run ${i + 1}/${RUNS} done`)
  }
  return runs
}

async function allocationTable(chosen: readonly Subject[]): Promise<void> {
  const session = new Session()
  session.connect()
  const runs = await rounds(chosen, (one) => profile(session, one))
  session.disconnect()
  const results = new Map<string, Allocation>()
  for (const [name, list] of runs) {
    results.set(name, { bytes: median(list.map((r) => r.bytes)), objects: median(list.map((r) => r.objects)) })
  }
  console.log(
    `Node ${process.version}; ${REQUESTS} requests per run, ${CONCURRENCY} concurrent, median of ${RUNS} runs; ` +
      `sampling interval ${INTERVAL} byte(s), objects collected by minor and major GCs included; ` +
      'node:http and gRPC servers in a child process on 127.0.0.1. JS heap only (Buffer contents are off-heap).\n',
  )
  console.log('| client | bytes/req | objects/req | Δ bytes/req | Δ objects/req |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const subject of chosen) {
    const r = results.get(subject.name)!
    const base = subject.wraps === undefined ? undefined : results.get(subject.wraps)
    console.log(
      `| ${subject.name} | ${Math.round(r.bytes).toLocaleString('en-US')} | ${r.objects.toFixed(1)} | ` +
        `${base === undefined ? '' : signed(r.bytes - base.bytes, 0)} | ` +
        `${base === undefined ? '' : signed(r.objects - base.objects, 1)} |`,
    )
  }
  console.log('\nΔ: against the plain client the adapter wraps (the row it names), measured in the same process.')
}

async function survivalTable(chosen: readonly Subject[]): Promise<void> {
  const runs = await rounds(chosen, survival)
  const results = new Map<string, Survival>()
  for (const [name, list] of runs) {
    results.set(name, {
      copied: median(list.map((r) => r.copied)),
      gc: median(list.map((r) => r.gc)),
      scavenges: median(list.map((r) => r.scavenges)),
    })
  }
  console.log(
    `Node ${process.version}; ${REQUESTS} requests per run, ${CONCURRENCY} concurrent, median of ${RUNS} runs; ` +
      `v8.GCProfiler; servers in a child process on 127.0.0.1; load average ${loadavg()[0]!.toFixed(2)}.\n`,
  )
  console.log(
    '| client | copied by scavenges B/req | GC µs/req | scavenges per 1,000 req | Δ copied B/req | Δ GC µs/req |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const subject of chosen) {
    const r = results.get(subject.name)!
    const base = subject.wraps === undefined ? undefined : results.get(subject.wraps)
    console.log(
      `| ${subject.name} | ${Math.round(r.copied).toLocaleString('en-US')} | ${r.gc.toFixed(2)} | ${r.scavenges.toFixed(1)} | ` +
        `${base === undefined ? '' : signed(r.copied - base.copied, 0)} | ${base === undefined ? '' : signed(r.gc - base.gc, 2)} |`,
    )
  }
  console.log('\nΔ: against the plain client the adapter wraps (the row it names), measured in the same process.')
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const closers: (() => unknown)[] = []
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve)
      child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)))
    })
    const { httpPorts, grpcPorts } = JSON.parse(line) as { httpPorts: number[]; grpcPorts: number[] }
    const urls = httpPorts.map((p) => `http://127.0.0.1:${p}`)
    const balancer = () => {
      const b = new Balancer({ endpoints: urls })
      closers.push(() => b.close())
      return b
    }
    const get = { path: '/', method: 'GET' } as const

    // undici
    const pools = urls.map((u) => new Pool(u))
    closers.push(...pools.map((p) => () => p.close()))
    let cursor = 0
    const balancedPool = new BalancedPool(urls)
    closers.push(() => balancedPool.close())
    const callBalancer = balancer()
    const poolOf = new Map(urls.map((u, i) => [u, pools[i]!]))
    const dispatcher = new BalancerDispatcher(balancer())
    closers.push(() => dispatcher.close())
    const origin = { ...get, origin: 'http://service.internal' }

    // fetch
    let fetchCursor = 0
    const balancedFetch = createFetch(balancer())
    const router = new OriginRouter({ 'http://service.internal': balancer() })
    closers.push(() => router.close())

    // axios
    const agents = urls.map(() => new http.Agent({ keepAlive: true }))
    closers.push(...agents.map((a) => () => a.destroy()))
    let axiosCursor = 0
    const plainAxios = axios.create()
    const keelAxios = axios.create({ baseURL: 'http://service.internal', adapter: axiosAdapter(balancer()) })

    // node:http
    let agentCursor = 0
    const balancerAgent = new BalancerAgent(balancer())
    closers.push(() => balancerAgent.destroy())

    // gRPC
    const insecure = credentials.createInsecure()
    const roundRobin = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) }
    const grpcTarget = `ipv4:${grpcPorts.map((p) => `127.0.0.1:${p}`).join(',')}`
    const plainGrpc = new Echo(grpcTarget, insecure, roundRobin) as GrpcJsClient & Record<string, Function>
    closers.push(() => plainGrpc.close())
    const plainUnary = unary(plainGrpc.Unary!.bind(plainGrpc))
    const grpcBalancer = new Balancer({ endpoints: grpcPorts.map((p) => `127.0.0.1:${p}`) })
    closers.push(() => grpcBalancer.close())
    const keelGrpc = createGrpcClient(grpcBalancer, Echo, insecure)
    const keelUnary = unary(keelGrpc.Unary as Function)
    const request = { id: 'x', message: 'hello', count: 0 }

    const POOL_RR = 'undici: hand-rolled round-robin, 3 Pools'
    const FETCH_RR = 'fetch: hand-rolled round-robin, global fetch'
    const AXIOS_RR = 'axios: hand-rolled round-robin, 3 Agents'
    const AGENT_RR = 'http.request: hand-rolled round-robin, 3 Agents'
    const GRPC_RR = 'gRPC: grpc-js round_robin'
    const subjects: Subject[] = [
      { name: POOL_RR, one: async () => (await pools[cursor++ % 3]!.request(get)).body.text() },
      { name: 'undici BalancedPool', wraps: POOL_RR, one: async () => (await balancedPool.request(get)).body.text() },
      {
        name: 'keel balancer.call around Pool.request',
        wraps: POOL_RR,
        one: () => callBalancer.call(async (endpoint) => (await poolOf.get(endpoint.origin)!.request(get)).body.text()),
      },
      {
        name: 'keel BalancerDispatcher',
        wraps: POOL_RR,
        one: async () => (await dispatcher.request(origin)).body.text(),
      },
      { name: FETCH_RR, one: async () => (await fetch(`${urls[fetchCursor++ % 3]}/`)).text() },
      { name: 'keel createFetch', wraps: FETCH_RR, one: async () => (await balancedFetch('/')).text() },
      {
        name: 'keel balancer.call around global fetch',
        wraps: FETCH_RR,
        one: () => callBalancer.call(async (endpoint) => (await fetch(endpoint.resolve('/'))).text()),
      },
      {
        name: 'global fetch through keel OriginRouter',
        wraps: FETCH_RR,
        // biome-ignore lint/suspicious/noExplicitAny: Node's fetch types its dispatcher with its bundled undici
        one: async () => (await fetch('http://service.internal/', { dispatcher: router } as any)).text(),
      },
      {
        name: AXIOS_RR,
        one: () => plainAxios.get(`${urls[axiosCursor % 3]}/`, { httpAgent: agents[axiosCursor++ % 3] }),
      },
      { name: 'keel axiosAdapter', wraps: AXIOS_RR, one: () => keelAxios.get('/') },
      { name: AGENT_RR, one: () => httpGet(`${urls[agentCursor % 3]}/`, agents[agentCursor++ % 3]!) },
      {
        name: 'keel BalancerAgent + http.request',
        wraps: AGENT_RR,
        one: () => httpGet('http://service.internal/', balancerAgent),
      },
      { name: GRPC_RR, one: () => plainUnary(request) },
      { name: 'keel gRPC unary', wraps: GRPC_RR, one: () => keelUnary(request) },
    ]

    const chosen = subjects.filter(
      (s) => only === undefined || s.name.toLowerCase().includes(only) || s.wraps?.toLowerCase().includes(only),
    )
    // Every client is warmed up first (JIT, connections), then the runs go round all clients in
    // turn, so no client is always measured first (while the code they share still settles).
    for (const subject of chosen) await runCount(subject.one, WARMUP, CONCURRENCY)
    if (SURVIVAL) await survivalTable(chosen)
    else await allocationTable(chosen)
  } finally {
    await Promise.allSettled(closers.map((close) => close()))
    child.stdin!.end()
    child.kill()
  }
}

if (process.argv.includes('--serve')) await serve()
else await main()
