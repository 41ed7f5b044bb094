// HTTP over loopback (docs/benchmarks.md#http-over-loopback): keel's BalancerDispatcher and
// createFetch against what a user would pick instead, all with DEFAULT options: undici's
// BalancedPool and a hand-rolled round-robin over three undici Pools (for the dispatcher), a
// hand-rolled round-robin over global fetch (for createFetch, beside `balancer.call` around the same
// fetch: keel's decision path without the adapter's layer, that path driven as createFetch drives
// it, and that call passing a fresh forwarding dispatcher per request: createFetch's floor; the
// round-robin after a call that does nothing: that path alone, in place, and the round-robin
// passing a fresh forwarding dispatcher per request: what fetch charges for the dispatcher
// createFetch passes, without keel, or a tap that only forwards fetch's callbacks; createFetch
// with the round-robin picker and a hand-rolled random choice: the picker's part; a hand-rolled
// p2c that keeps each request in flight until its body ends: what balancing by load costs at
// least, without keel, and keel's own pick and attempt observers through that p2c's tap: what a
// fused createFetch would cost at the least); with a raw Pool to one backend and nginx
// least_conn / HAProxy leastconn as central proxies reported beside them.
// Three nginx backends answer `200 ok` at once. Client CPU per request is this process's CPU time:
// on a shared machine it is steadier than req/s.
//
// To add a client, add an entry to `clients` with the baseline it is compared to (a client of the
// same kind, measured in the same round).
//
// Each family runs in its own child process, its clients taking turns in short slices in a
// balanced order (bench/_rounds.ts says why): `goal`, the dispatcher beside what an undici user
// would swap for it (BalancedPool, the hand-rolled round-robin) and nothing else, since which
// clients share a process moves the ratio by more than the 5% the goal allows
// (docs/benchmarks.md, "Where the adapters stand"); `proxies`, the other undici rows with the
// default dispatcher again; `fetch-goal`, createFetch beside the fetch round-robin a fetch user
// would keep and the hand-rolled p2c, and nothing else, for the same reason; `fetch`, createFetch
// again among the fetch rows that split its cost. A second instance of each baseline is measured
// like any client: how far it reads from the first is the run's noise.
//
// With `--runs N` the whole measurement is made N times, each time in new family processes (the
// families' order alternating): rows pool every round of every run, and a last table gives each
// run's own median and the median over runs, which a process's luck (how its JIT and connections
// settled, what else ran on the host then) moves as a whole and one run's rounds cannot show.
//
// Run: node bench/http.ts [--slice-ms 250] [--rounds 24] [--concurrency 32] [--runs 1] [--family goal,proxies,fetch-goal,fetch]
// (about 3½ minutes a run; `--family fetch` alone about 100 s, `--family fetch-goal` about 40 s)
// Installs nginx and haproxy from Debian's packages when missing (needs root), starts them on
// 127.0.0.1 with generated configs in a temp dir and stops them at the end.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BalancedPool, type Dispatcher, Pool } from 'undici'
import { type DispatchTarget, globalDispatcher } from '../src/adapters/fetch/attempt-dispatcher.ts'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { BalancerDispatcher } from '../src/adapters/undici/index.ts'
import { adapterPort, coreOf } from '../src/core/port-access.ts'
import type { AdapterCall, AdapterPort, EndedAttempt, ResolvedCall } from '../src/core/ports.ts'
import { Balancer, type BalancerOptions } from '../src/index.ts'
import {
  type BenchClient,
  childOf,
  measureRounds,
  perRunCells,
  pooledRuns,
  report,
  roundArgs,
  runsArg,
} from './_rounds.ts'
import { median, signed, withInterval } from './lib.ts'
import {
  ensureProxies,
  freePort,
  haproxyConfig,
  haproxyVersion,
  listening,
  nginxConfig,
  nginxVersion,
  okBackends,
} from './proxies.ts'

const { sliceMs: SLICE_MS, rounds: ROUNDS, concurrency: CONCURRENCY } = roundArgs()
const RUNS = runsArg()

type Family = 'dispatcher' | 'undici' | 'fetchGoal' | 'fetch'

/** `--family goal,fetch`: the families (by the name the tables give their process) to measure; all by default. */
function familiesArg(): readonly Family[] {
  const { values } = parseArgs({ strict: false, options: { family: { type: 'string' } } })
  if (typeof values.family !== 'string') return FAMILIES
  const chosen = values.family.split(',')
  const known = FAMILIES.map((f) => PROCESS[f])
  const unknown = chosen.filter((name) => !known.includes(name))
  if (unknown.length > 0) throw new Error(`--family takes ${known.join(', ')}; got ${unknown.join(', ')}`)
  return FAMILIES.filter((f) => chosen.includes(PROCESS[f]))
}

/** How each family's process shows in the tables (in the order the families run). */
const PROCESS: Record<Family, string> = {
  dispatcher: 'goal',
  undici: 'proxies',
  fetchGoal: 'fetch-goal',
  fetch: 'fetch',
}
const FAMILIES = Object.keys(PROCESS) as Family[]

/** What a family's process needs to build its clients. */
interface Context {
  readonly urls: string[]
  readonly nginxPort: number
  readonly haproxyPort: number
}

/** What a family's process gives its clients: the backends, and closing what they made at the end. */
interface Built {
  readonly urls: string[]
  pool<T extends { close(): Promise<unknown> }>(p: T): T
}

interface Client {
  readonly name: string
  readonly family: Family
  readonly topology: string
  /** The client this one's ratio and CPU Δ are taken against, measured next to it in every round. */
  readonly baseline: string
  /** A second reference for undici clients: undici's BalancedPool (what a dispatcher user swaps out). */
  readonly versus?: string
  readonly make: (built: Built, context: Context) => () => Promise<void>
}

interface Row {
  rps: number[]
  /** This process's CPU time per request, µs (user + system). */
  cpu: number[]
  gc: number[]
  ratio: number[]
  /** CPU µs per request minus the baseline's in the same round. */
  cpuDelta: number[]
  versus: number[]
  versusCpu: number[]
  p50: number[]
  p99: number[]
}

const RR = 'hand-rolled round-robin, 3 Pools'
const BALANCED_POOL = 'undici BalancedPool'
const FETCH_RR = 'hand-rolled round-robin, global fetch'
const DIRECT = 'client → 3 backends'
const PROXIED = 'client → proxy → 3 backends'
const GET = { path: '/', method: 'GET' } as const
const ORIGIN = { ...GET, origin: 'http://service.internal' }

/** One GET of `/` through `dispatcher` (with `opts`), its body read whole. */
function getVia(dispatcher: Dispatcher, opts: Dispatcher.RequestOptions = GET): () => Promise<void> {
  return async () => void (await (await dispatcher.request(opts)).body.text())
}

/** A balancer and its BalancerDispatcher, closed with the family's process. */
function dispatcherOf(built: Built, options: Omit<BalancerOptions, 'endpoints'>): BalancerDispatcher {
  const balancer = new Balancer({ endpoints: built.urls, ...options })
  const dispatcher = new BalancerDispatcher(balancer)
  built.pool({ close: () => dispatcher.close().then(() => balancer.close()) })
  return dispatcher
}

/** undici's BalancedPool over the three backends, default options. */
function balancedPool(built: Built): () => Promise<void> {
  return getVia(built.pool(new BalancedPool(built.urls)))
}

/** A hand-rolled round-robin over the backends' URLs with global fetch. */
function fetchRoundRobin({ urls }: Built): () => Promise<void> {
  let cursor = 0
  return async () => void (await (await fetch(`${urls[cursor++ % 3]}/`)).text())
}

/**
 * A `dispatch` that only forwards to undici's global dispatcher (legacy handler API, what Node's
 * fetch dispatches with), for the rows that hand fetch a fresh dispatcher per request. It fails
 * here, not on the first request, when there is none.
 */
function forwardToGlobal(): DispatchTarget['dispatch'] {
  const global = globalDispatcher(false)
  if (global === undefined) throw new Error('undici has no global dispatcher: call global fetch first')
  return (options, handler) => global.dispatch(options, handler)
}

/**
 * The fetch round-robin passing a fresh init with a fresh dispatcher per request, whose `dispatch`
 * is the one given: the rows that measure what such a dispatcher costs fetch without keel.
 */
function fetchRoundRobinThrough({ urls }: Built, dispatch: DispatchTarget['dispatch']): () => Promise<void> {
  let cursor = 0
  return async () => {
    const init = { dispatcher: { dispatch } } as RequestInit
    return void (await (await fetch(`${urls[cursor++ % 3]}/`, init)).text())
  }
}

type LegacyHandler = Record<string, ((...args: unknown[]) => unknown) | undefined>

/** A legacy-API handler that passes every callback on to fetch's, and does nothing else. */
class ForwardingTap {
  readonly #to: LegacyHandler
  constructor(to: object) {
    this.#to = to as LegacyHandler
  }
  onConnect(abort: unknown, context: unknown): unknown {
    return this.#to.onConnect?.(abort, context)
  }
  onResponseStarted(): unknown {
    return this.#to.onResponseStarted?.()
  }
  onHeaders(status: unknown, headers: unknown, resume: unknown, text: unknown): unknown {
    return this.#to.onHeaders?.(status, headers, resume, text)
  }
  onData(chunk: unknown): unknown {
    return this.#to.onData?.(chunk)
  }
  onComplete(trailers: unknown): unknown {
    return this.#to.onComplete?.(trailers)
  }
  onError(error: unknown): unknown {
    return this.#to.onError?.(error)
  }
  onUpgrade(status: unknown, headers: unknown, socket: unknown): unknown {
    return this.#to.onUpgrade?.(status, headers, socket)
  }
}

/** A `ForwardingTap` that also calls `ended` when the exchange ends, however it ends. */
class EndingTap extends ForwardingTap {
  readonly #ended: () => void
  constructor(to: object, ended: () => void) {
    super(to)
    this.#ended = ended
  }
  override onComplete(trailers: unknown): unknown {
    try {
      return super.onComplete(trailers)
    } finally {
      this.#ended()
    }
  }
  override onError(error: unknown): unknown {
    try {
      return super.onError(error)
    } finally {
      this.#ended()
    }
  }
}

/**
 * One GET of `url` with global fetch through a fresh dispatcher whose tap calls `ended` when the
 * exchange ends (an `EndingTap` per request, as createFetch's per attempt), its body read whole.
 */
async function fetchUntilEnd(forward: DispatchTarget['dispatch'], url: string, ended: () => void): Promise<void> {
  const dispatcher = {
    dispatch: (options: object, handler: object) => forward(options, new EndingTap(handler, ended)),
  }
  void (await (await fetch(url, { dispatcher } as RequestInit)).text())
}

/** A backend of the hand-rolled p2c: its requests in flight and an EWMA of their latency, ms. */
interface LoadedBackend {
  readonly url: string
  inFlight: number
  latencyMs: number
}

/**
 * The least a fetch user would hand-roll to balance by load, without keel: power of two choices
 * on latency × (requests in flight + 1) (Finagle's PeakEWMA cost, without the peak), each request
 * in flight until its body has ended, which it sees as createFetch does: through a fresh
 * dispatcher and tap per request. What createFetch costs beyond it is keel's, not fetch's.
 */
function handRolledP2c({ urls }: Built): () => Promise<void> {
  const backends: LoadedBackend[] = urls.map((url) => ({ url: `${url}/`, inFlight: 0, latencyMs: 1 }))
  const n = backends.length
  const forward = forwardToGlobal()
  const cost = (b: LoadedBackend) => b.latencyMs * (b.inFlight + 1)
  return () => {
    const i = Math.floor(Math.random() * n)
    const a = backends[i]!
    const b = backends[(i + 1 + Math.floor(Math.random() * (n - 1))) % n]!
    const backend = cost(b) < cost(a) ? b : a
    backend.inFlight++
    const start = performance.now()
    const ended = () => {
      backend.inFlight--
      backend.latencyMs += 0.25 * (performance.now() - start - backend.latencyMs)
    }
    return fetchUntilEnd(forward, backend.url, ended)
  }
}

/**
 * One request of keel's driven call around global fetch: what `createFetch` runs per request
 * (`AdapterPort.drive`: no promise of keel's per call, the pick and the send in one go) without its
 * own layer (the init it builds, the dispatcher that watches the body, the hand-over). Each attempt
 * fetches from the picked endpoint and ends when the response arrives, classified once.
 */
class DrivenFetch implements AdapterCall {
  readonly #port: AdapterPort
  readonly #resolve: (response: Response) => void
  readonly #reject: (error: unknown) => void

  constructor(port: AdapterPort, resolve: (response: Response) => void, reject: (error: unknown) => void) {
    this.#port = port
    this.#resolve = resolve
    this.#reject = reject
  }

  attempt(endpoint: { resolve(path: string): string }, attempt: object): void {
    const port = this.#port
    const control = port.control(attempt)!
    fetch(endpoint.resolve('/')).then(
      (response) => {
        control.classified(port.classifier.value(response))
        control.succeed(response)
      },
      (error: unknown) => control.fail(error),
    )
  }

  resolved(value: unknown): void {
    this.#resolve(value as Response)
  }

  rejected(error: unknown): void {
    this.#reject(error)
  }
}

/** keel's driven call around global fetch over a default balancer (`DrivenFetch`). */
function drivenFetch(built: Built): () => Promise<void> {
  const port = adapterPort(built.pool(new Balancer({ endpoints: built.urls })))
  const options: ResolvedCall = port.resolveCall({})
  const send = () =>
    new Promise<Response>((resolve, reject) => port.drive(new DrivenFetch(port, resolve, reject), options))
  return async () => void (await (await send()).text())
}

/**
 * keel's balancing alone around global fetch, as a fused `createFetch` would run it at the least:
 * the hub's own pick (`p2c-ewma` on PeakEWMA, the breaker's and ejections' admission), the
 * in-flight counts, and the attempt observers in their order (load, breaker, outlier detection,
 * the overload pause) when the body ends, seen through the hand-rolled p2c's fresh dispatcher and
 * tap; none of the call (`CallRun`, the driven call, the attempt's object, retries, the budget,
 * call observation) and none of createFetch's layer. Every answer is a success, as here.
 */
function pickAndObserve(built: Built): () => Promise<void> {
  const core = coreOf(built.pool(new Balancer({ endpoints: built.urls })))
  const forward = forwardToGlobal()
  const { observers } = core
  return () => {
    const start = core.clock.now()
    const state = core.set.select(undefined, undefined, start)
    state.inFlight++
    core.inFlight++
    const ended = () => {
      state.inFlight--
      core.inFlight--
      state.requests++
      const now = core.clock.now()
      const attempt: EndedAttempt = {
        state,
        endpoint: state.endpoint,
        number: 1,
        verdict: 'success',
        start,
        durationMs: now - start,
        trial: false,
        retryAfterMs: 0,
        error: undefined,
        cancelled: false,
        cancelReason: undefined,
      }
      for (let i = 0; i < observers.length; i++) observers[i]!.attemptEnded(attempt, now)
    }
    return fetchUntilEnd(forward, state.endpoint.resolve('/'), ended)
  }
}

/** The hand-rolled round-robin over three undici Pools: every undici row's baseline. */
function poolRoundRobin(built: Built): () => Promise<void> {
  const pools = built.urls.map((u) => built.pool(new Pool(u)))
  let cursor = 0
  return async () => void (await (await pools[cursor++ % 3]!.request(GET)).body.text())
}

/** An undici client of `family`, compared with the round-robin and (if `versus`) BalancedPool. */
function undici(family: Family, name: string, make: Client['make'], versus = true, topology = DIRECT): Client {
  return { name, family, topology, baseline: RR, ...(versus ? { versus: BALANCED_POOL } : {}), make }
}

/** A global fetch client, compared with the fetch round-robin. */
function fetchClient(name: string, make: Client['make'], family: Family = 'fetch'): Client {
  return { name, family, topology: DIRECT, baseline: FETCH_RR, make }
}

/** keel's createFetch over a default balancer, closed with the family's process. */
function balancedFetch(built: Built): () => Promise<void> {
  const balancer = built.pool(new Balancer({ endpoints: built.urls }))
  const balanced = createFetch(balancer)
  return async () => void (await (await balanced('/')).text())
}

/**
 * The rows both fetch families start with: the round-robin (their baseline), a second one (the
 * noise floor), createFetch and the hand-rolled p2c.
 */
function fetchBaselines(family: Family): Client[] {
  return [
    fetchClient(FETCH_RR, fetchRoundRobin, family),
    fetchClient('hand-rolled round-robin, global fetch, a second one (the noise floor)', fetchRoundRobin, family),
    fetchClient('keel createFetch (global fetch)', balancedFetch, family),
    // Balancing by load at its least, without keel: what choosing by load and keeping each request
    // in flight until its body ends cost fetch, whoever does it.
    fetchClient(
      'hand-rolled p2c by latency × requests in flight, each in flight until its body ends, no keel',
      handRolledP2c,
      family,
    ),
  ]
}

const P2C = 'keel BalancerDispatcher (p2c-ewma)'

/** A client's slices: names repeat across families (each process has its own baselines). */
const keyOf = (family: string, name: string) => `${family}: ${name}`

const clients: Client[] = [
  // The dispatcher's goal: keel's dispatcher beside what an undici user would swap for it, and
  // nothing else in the process (which clients share a process moves the ratio: see the top).
  undici('dispatcher', RR, poolRoundRobin, false),
  undici('dispatcher', P2C, (built) => getVia(dispatcherOf(built, {}), ORIGIN)),
  undici('dispatcher', 'keel BalancerDispatcher (round-robin)', (built) =>
    getVia(dispatcherOf(built, { picker: 'round-robin' }), ORIGIN),
  ),
  undici('dispatcher', BALANCED_POOL, balancedPool, false),
  // The same client twice: how far two identical clients read apart in one run (an A/A control).
  undici('dispatcher', 'undici BalancedPool, a second one (the noise floor)', balancedPool),
  // The other undici rows, the proxies among them; the default dispatcher again, to show what
  // sharing its process with them does to it.
  undici('undici', RR, poolRoundRobin, false),
  undici('undici', P2C, (built) => getVia(dispatcherOf(built, {}), ORIGIN)),
  undici('undici', 'keel BalancerDispatcher (p2c-ewma, breaker off)', (built) =>
    getVia(dispatcherOf(built, { breaker: false }), ORIGIN),
  ),
  undici('undici', 'keel balancer.call around Pool.request', (built) => {
    const balancer = new Balancer({ endpoints: built.urls })
    built.pool(balancer)
    const pools = new Map(built.urls.map((u) => [u, built.pool(new Pool(u))]))
    return async () =>
      void (await balancer.call(async (endpoint) => (await pools.get(endpoint.origin)!.request(GET)).body.text()))
  }),
  undici(
    'undici',
    'raw Pool, 1 backend',
    (built) => getVia(built.pool(new Pool(built.urls[0]!))),
    false,
    'client → 1 backend',
  ),
  undici('undici', BALANCED_POOL, balancedPool, false),
  undici(
    'undici',
    'nginx least_conn (1 worker)',
    (built, { nginxPort }) => getVia(built.pool(new Pool(`http://127.0.0.1:${nginxPort}`))),
    false,
    PROXIED,
  ),
  undici(
    'undici',
    'HAProxy leastconn (1 thread)',
    (built, { haproxyPort }) => getVia(built.pool(new Pool(`http://127.0.0.1:${haproxyPort}`))),
    false,
    PROXIED,
  ),
  // createFetch's goal: beside the fetch round-robin it replaces and the least a balancer by load
  // costs fetch, and nothing else in the process.
  ...fetchBaselines('fetchGoal'),
  // The fetch rows that split createFetch's cost, createFetch again among them.
  ...fetchBaselines('fetch'),
  // keel's decision path alone around the same fetch, what createFetch's own layer is measured
  // against: no per-request dispatcher watching the body, each attempt ending when `fn` has read
  // the body.
  fetchClient('keel `balancer.call` around global fetch (defaults)', (built) => {
    const balancer = built.pool(new Balancer({ endpoints: built.urls }))
    return () => balancer.call(async (endpoint) => void (await (await fetch(endpoint.resolve('/'))).text()))
  }),
  // The same decision path driven the way createFetch drives it, with none of createFetch's own
  // layer: what keel's hub costs fetch in createFetch's shape of call.
  fetchClient('keel driven call around global fetch (createFetch without its dispatcher and layer)', drivenFetch),
  // A fused createFetch's floor: keel's pick and attempt observers, nothing else of keel, seen
  // through the hand-rolled p2c's dispatcher and tap. Beside that p2c, it tells keel's balancing
  // from the hub's call and createFetch's layer.
  fetchClient(
    "keel's pick and attempt observers around global fetch, none of its call or createFetch's layer",
    pickAndObserve,
  ),
  // createFetch's floor: `balancer.call` around the same fetch, with what createFetch cannot do
  // without (a fresh dispatcher per attempt in fetch's init, here one that only forwards to
  // undici's global one) and none of its own layer (driven call, the dispatcher's watching,
  // classification, hand-over).
  fetchClient('keel `balancer.call` around global fetch, a fresh forwarding dispatcher per request', (built) => {
    const balancer = built.pool(new Balancer({ endpoints: built.urls }))
    const dispatch = forwardToGlobal()
    return () =>
      balancer.call(async (endpoint) => {
        const init = { dispatcher: { dispatch } } as RequestInit
        return void (await (await fetch(endpoint.resolve('/'), init)).text())
      })
  }),
  // What fetch itself charges for what createFetch passes it per attempt, without keel: a fresh
  // init with a fresh dispatcher that only forwards to undici's global one (the one fetch uses
  // anyway). Beside the floor row, it tells the dispatcher's own cost from keel's call around it.
  fetchClient('hand-rolled round-robin, global fetch, a fresh forwarding dispatcher per request', (built) =>
    fetchRoundRobinThrough(built, forwardToGlobal()),
  ),
  // What watching the exchange below fetch costs fetch, without keel: each request's dispatcher
  // forwards to undici's global one through a tap that only passes every callback on to fetch's
  // handler. createFetch's tap (which also holds small bodies and notes the end) is one such.
  fetchClient('hand-rolled round-robin, global fetch, a fresh forwarding tap per request', (built) => {
    const forward = forwardToGlobal()
    // One function for every request, as in the row above: the rows differ by the tap alone.
    return fetchRoundRobinThrough(built, (options, handler) => forward(options, new ForwardingTap(handler)))
  }),
  // The picker's part: createFetch with the baseline's own policy, and the baseline with a random
  // choice instead of its rotation (a policy alone, without keel).
  fetchClient('keel createFetch (global fetch), round-robin picker', (built) => {
    const balanced = createFetch(built.pool(new Balancer({ endpoints: built.urls, picker: 'round-robin' })))
    return async () => void (await (await balanced('/')).text())
  }),
  fetchClient('hand-rolled random choice, global fetch', ({ urls }) => {
    return async () => void (await (await fetch(`${urls[Math.floor(Math.random() * 3)]}/`)).text())
  }),
  // keel's decision path in place, around nothing: a `balancer.call` whose fn returns at once,
  // before each request of the round-robin. Set beside what the same call costs with nothing else
  // on the event loop (bench/call-overhead.ts), it shows what keel's work per request costs inside
  // this client, whatever the adapter.
  fetchClient(
    'hand-rolled round-robin, global fetch, each request after a `balancer.call` that does nothing',
    (built) => {
      const balancer = built.pool(new Balancer({ endpoints: built.urls }))
      const nothing = () => 0
      const roundRobin = fetchRoundRobin(built)
      return async () => {
        await balancer.call(nothing)
        await roundRobin()
      }
    },
  ),
]

/** A family's child process: builds its clients, measures them, reports the slices. */
async function measureFamily(family: string, context: Context): Promise<void> {
  const closers: (() => Promise<unknown>)[] = []
  const built: Built = {
    urls: context.urls,
    pool(p) {
      closers.push(() => p.close())
      return p
    },
  }
  try {
    const own: BenchClient[] = clients
      .filter((c) => c.family === family)
      .map((c) => ({ name: c.name, one: c.make(built, context) }))
    report(await measureRounds(own, { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY }))
  } finally {
    await Promise.allSettled(closers.map((close) => close()))
  }
}

async function main(): Promise<void> {
  ensureProxies()
  const startLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-'))
  const children: ChildProcess[] = []
  try {
    const urls = await okBackends(dir, (child) => children.push(child))
    const backendPorts = urls.map((url) => Number(new URL(url).port))
    const nginxPort = await freePort()
    const haproxyPort = await freePort()
    const upstream = backendPorts.map((p) => `server 127.0.0.1:${p};`).join(' ')
    const proxyConf = nginxConfig(
      dir,
      'proxy',
      `  upstream backends { least_conn; ${upstream} keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://backends; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    )
    const haproxyConf = haproxyConfig(dir, haproxyPort, backendPorts)
    const start = (cmd: string, args: string[]) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] })
      children.push(child)
      return child
    }
    await listening(nginxPort, start('nginx', ['-p', dir, '-e', join(dir, 'proxy.error.log'), '-c', proxyConf]))
    await listening(haproxyPort, start('haproxy', ['-db', '-f', haproxyConf]))

    const context: Context = { urls, nginxPort, haproxyPort }
    const families = familiesArg()
    const slices = await pooledRuns(import.meta.filename, families, context, RUNS, keyOf)
    const measured = clients.filter((client) => families.includes(client.family))

    const rows = new Map<Client, Row>()
    for (const client of measured) {
      const own = slices[keyOf(client.family, client.name)]!
      const base = slices[keyOf(client.family, client.baseline)]!
      const versus = client.versus === undefined ? undefined : slices[keyOf(client.family, client.versus)]!
      rows.set(client, {
        rps: own.map((s) => s.rps),
        cpu: own.map((s) => s.cpu),
        gc: own.map((s) => s.gc),
        ratio: own.map((s, i) => s.rps / base[i]!.rps),
        cpuDelta: own.map((s, i) => s.cpu - base[i]!.cpu),
        versus: versus === undefined ? [] : own.map((s, i) => s.rps / versus[i]!.rps),
        versusCpu: versus === undefined ? [] : own.map((s, i) => s.cpu - versus[i]!.cpu),
        p50: own.map((s) => s.p50),
        p99: own.map((s) => s.p99),
      })
    }

    const cpu = cpus()
    console.log(
      `Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ${CONCURRENCY} concurrent, ` +
        `${ROUNDS} rounds of one ${SLICE_MS} ms slice per client in a balanced order (bench/_rounds.ts)${RUNS > 1 ? `, ${RUNS} runs pooled` : ''}, one process per family (goal: the dispatcher beside what it replaces; ` +
        `proxies: the other undici rows; fetch-goal: createFetch beside the fetch round-robin; fetch: the fetch rows that split its cost); load average at the start ${startLoad}; nginx ${nginxVersion()} backends (1 worker, \`return 200 'ok'\`), ` +
        `${haproxyVersion()}; everything on 127.0.0.1, client, backends and proxies sharing the cores.\n`,
    )
    console.log(
      '| client | process | topology | req/s | ratio | client CPU µs/req | CPU Δ µs/req | vs BalancedPool | CPU Δ vs BalancedPool | GC µs/req | p50 ms | p99 ms |',
    )
    console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const client of measured) {
      const row = rows.get(client)!
      const own = client.baseline === client.name
      const versus = client.versus === undefined
      console.log(
        `| ${client.name} | ${PROCESS[client.family]} | ${client.topology} | ${Math.round(median(row.rps)).toLocaleString('en-US')} | ` +
          `${median(row.ratio).toFixed(2)}× | ${median(row.cpu).toFixed(1)} | ${own ? '' : signed(median(row.cpuDelta))} | ` +
          `${versus ? '' : `${median(row.versus).toFixed(2)}×`} | ${versus ? '' : signed(median(row.versusCpu))} | ` +
          `${median(row.gc).toFixed(1)} | ${median(row.p50).toFixed(2)} | ${median(row.p99).toFixed(2)} |`,
      )
    }
    // The goals compare each undici client with BalancedPool and createFetch with the fetch
    // round-robin: how far the medians could be from the truth, from this run's own rounds.
    const times = (x: number) => `${x.toFixed(2)}×`
    console.log(
      `\n| client | process | compared with | req/s ratio (95% CI) | CPU Δ µs/req (95% CI) |\n| --- | --- | --- | --- | --- |`,
    )
    for (const client of measured) {
      if (client.baseline === client.name) continue
      const row = rows.get(client)!
      const versus = client.versus !== undefined
      console.log(
        `| ${client.name} | ${PROCESS[client.family]} | ${versus ? client.versus : client.baseline} | ` +
          `${withInterval(versus ? row.versus : row.ratio, times)} | ${withInterval(versus ? row.versusCpu : row.cpuDelta, (x) => signed(x))} |`,
      )
    }
    if (RUNS > 1) {
      // One median per run: what moves a whole run shows here, not in the pooled rounds above.
      console.log(
        `\n| client | process | compared with | req/s ratio, median of ${RUNS} runs (95% CI; under 6 runs, their range) | each run | CPU Δ µs/req, median of runs (95% CI) | each run |\n| --- | --- | --- | --- | --- | --- | --- |`,
      )
      for (const client of measured) {
        if (client.baseline === client.name) continue
        const row = rows.get(client)!
        const versus = client.versus !== undefined
        const cells = perRunCells(versus ? row.versus : row.ratio, versus ? row.versusCpu : row.cpuDelta, RUNS, ROUNDS)
        console.log(
          `| ${client.name} | ${PROCESS[client.family]} | ${versus ? client.versus : client.baseline} | ${cells} |`,
        )
      }
    }
    console.log(
      '\nMedians over rounds. ratio / CPU Δ: the medians of per-round req/s ratios and CPU differences to the ' +
        'hand-rolled round-robin of the same client kind (undici Pools, or global fetch) run in the same round; ' +
        'vs BalancedPool: the same against undici BalancedPool. 95% CI: a distribution-free interval for that median ' +
        '(bench/lib.ts, `medianInterval`), the rounds taken as independent. client CPU: the family process only (a proxy spends ' +
        `its own CPU on top); GC: collector pauses, part of the CPU. Load average at the end: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')}.`,
    )
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGTERM')
          }),
      ),
    )
    rmSync(dir, { recursive: true, force: true })
  }
}

const child = childOf<Context>()
if (child === undefined) await main()
else await measureFamily(child.family, child.context)
