// node:http clients over loopback: keel's BalancerAgent against a hand-rolled round-robin over one
// keep-alive node:http Agent per backend (what a user would write instead), with http.request and
// with got. The baselines' agents have Node's global-agent options (keep-alive, lifo, a 5 s idle
// `timeout`), the behaviour keel's agents have by default; two more rows compare without an idle
// limit: agents with keep-alive alone (which node:http serves cheaper), and keel's agent with
// `timeout: 0` against them. And Node's global fetch through OriginRouter against global fetch
// sent round-robin to the backends' own URLs. Three nginx backends answer `200 ok` at once.
//
// Each family (node:http clients, global-fetch clients) runs in its own child process, its clients
// taking turns in short slices in a balanced order (bench/_rounds.ts says why).
//
// Run: node bench/http-agent.ts [--slice-ms 250] [--rounds 24] [--concurrency 32]   (about 1.5 minutes)
// Installs nginx from Debian's packages when missing (needs root), starts it on 127.0.0.1 with a
// generated config in a temp dir and stops it at the end.
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import got from 'got'
import { Agent, type Dispatcher, setGlobalDispatcher } from 'undici'
import { BalancerAgent } from '../src/adapters/http-agent/index.ts'
import { OriginRouter } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { type BenchClient, childOf, measureRounds, report, roundArgs, runFamily, type Slice } from './_rounds.ts'
import { httpGet, median, signed } from './lib.ts'
import { ensureProxies, nginxVersion, okBackends } from './proxies.ts'

const { sliceMs: SLICE_MS, rounds: ROUNDS, concurrency: CONCURRENCY } = roundArgs()

type Family = 'node-http' | 'fetch'

/** Built once per family process: the clients share these. */
interface Built {
  readonly urls: string[]
  readonly rrAgents: http.Agent[]
  /** Keep-alive agents without Node's global-agent `timeout` and `lifo`: cheaper, no idle limit. */
  readonly plainAgents: http.Agent[]
  closeLater(close: () => unknown): void
}

interface Client {
  readonly name: string
  readonly family: Family
  readonly baseline: string
  /** Returns the client's request; `before` is what must be in place while it runs (the global dispatcher). */
  readonly make: (built: Built) => { one: () => Promise<void>; before?: () => void }
}

const RR_HTTP = 'hand-rolled round-robin, 3 Agents, http.request'
const RR_HTTP_PLAIN = 'hand-rolled round-robin, 3 Agents (keep-alive only, no timeout), http.request'
const RR_GOT = 'hand-rolled round-robin, 3 Agents, got'
const RR_FETCH = 'global fetch round-robin to 3 URLs'
const SERVICE = 'http://users.internal/'
const GOT_OPTIONS = { retry: { limit: 0 } } as const

function balancerOf(built: Built, picker: 'p2c-ewma' | 'round-robin'): Balancer {
  const balancer = new Balancer({ endpoints: built.urls, picker })
  built.closeLater(() => balancer.close())
  return balancer
}

function agentOf(built: Built, picker: 'p2c-ewma' | 'round-robin', options: { timeout?: number } = {}): BalancerAgent {
  const agent = new BalancerAgent(balancerOf(built, picker), options)
  built.closeLater(() => agent.destroy())
  return agent
}

// Node's own global dispatcher, put back for the plain global-fetch baseline.
const globalStore = globalThis as unknown as Record<symbol, unknown>
const GLOBAL_KEYS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')]
const nodeGlobal = GLOBAL_KEYS.map((k) => globalStore[k])
function useGlobal(dispatcher: Dispatcher | undefined): () => void {
  return () => {
    if (dispatcher !== undefined) setGlobalDispatcher(dispatcher)
    else for (const [i, k] of GLOBAL_KEYS.entries()) globalStore[k] = nodeGlobal[i]
  }
}

function fetchRr(urls: readonly string[]): () => Promise<void> {
  let cursor = 0
  return async () => void (await (await fetch(`${urls[cursor++ % 3]}/`)).text())
}

const fetchService = async () => void (await (await fetch(SERVICE)).text())

function routerOf(built: Built, picker: 'p2c-ewma' | 'round-robin'): OriginRouter {
  const router = new OriginRouter({ 'http://users.internal': balancerOf(built, picker) })
  built.closeLater(() => router.close())
  return router
}

const clients: Client[] = [
  {
    name: RR_HTTP,
    family: 'node-http',
    baseline: RR_HTTP,
    make: ({ urls, rrAgents }) => {
      let cursor = 0
      return { one: () => httpGet(`${urls[cursor % 3]}/`, rrAgents[cursor++ % 3]!) }
    },
  },
  {
    name: RR_HTTP_PLAIN,
    family: 'node-http',
    baseline: RR_HTTP,
    make: ({ urls, plainAgents }) => {
      let cursor = 0
      return { one: () => httpGet(`${urls[cursor % 3]}/`, plainAgents[cursor++ % 3]!) }
    },
  },
  {
    name: 'keel BalancerAgent (round-robin), http.request',
    family: 'node-http',
    baseline: RR_HTTP,
    make: (built) => {
      const agent = agentOf(built, 'round-robin')
      return { one: () => httpGet(SERVICE, agent) }
    },
  },
  {
    name: 'keel BalancerAgent (p2c-ewma), http.request',
    family: 'node-http',
    baseline: RR_HTTP,
    make: (built) => {
      const agent = agentOf(built, 'p2c-ewma')
      return { one: () => httpGet(SERVICE, agent) }
    },
  },
  {
    // Like for like with the keep-alive-only agents: no idle limit either.
    name: 'keel BalancerAgent (p2c-ewma, timeout: 0), http.request',
    family: 'node-http',
    baseline: RR_HTTP_PLAIN,
    make: (built) => {
      const agent = agentOf(built, 'p2c-ewma', { timeout: 0 })
      return { one: () => httpGet(SERVICE, agent) }
    },
  },
  {
    name: RR_GOT,
    family: 'node-http',
    baseline: RR_GOT,
    make: ({ urls, rrAgents }) => {
      let cursor = 0
      return {
        one: async () => {
          const i = cursor++ % 3
          await got(`${urls[i]}/`, { ...GOT_OPTIONS, agent: { http: rrAgents[i]! } }).text()
        },
      }
    },
  },
  {
    name: 'keel BalancerAgent (round-robin), got',
    family: 'node-http',
    baseline: RR_GOT,
    make: (built) => {
      const agent = agentOf(built, 'round-robin')
      return { one: async () => void (await got(SERVICE, { ...GOT_OPTIONS, agent: { http: agent } }).text()) }
    },
  },
  {
    name: RR_FETCH,
    family: 'fetch',
    baseline: RR_FETCH,
    make: ({ urls }) => ({ before: useGlobal(undefined), one: fetchRr(urls) }),
  },
  {
    name: 'global fetch round-robin, undici 8 Agent as global',
    family: 'fetch',
    baseline: RR_FETCH,
    make: (built) => {
      const agent = new Agent()
      built.closeLater(() => agent.close())
      return { before: useGlobal(agent), one: fetchRr(built.urls) }
    },
  },
  {
    name: 'keel OriginRouter (round-robin), global fetch',
    family: 'fetch',
    baseline: RR_FETCH,
    make: (built) => ({ before: useGlobal(routerOf(built, 'round-robin')), one: fetchService }),
  },
  {
    name: 'keel OriginRouter (p2c-ewma), global fetch',
    family: 'fetch',
    baseline: RR_FETCH,
    make: (built) => ({ before: useGlobal(routerOf(built, 'p2c-ewma')), one: fetchService }),
  },
]

/** A family's child process: builds its clients, measures them, reports the slices. */
async function measureFamily(family: string, urls: string[]): Promise<void> {
  const closers: (() => unknown)[] = []
  // What Node's global agent uses since Node 19, for the baselines and (by default) for keel.
  const rrAgents = urls.map(() => new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5_000 }))
  const plainAgents = urls.map(() => new http.Agent({ keepAlive: true }))
  const built: Built = { urls, rrAgents, plainAgents, closeLater: (close) => closers.push(close) }
  try {
    const own: BenchClient[] = clients
      .filter((c) => c.family === family)
      .map((c) => ({ name: c.name, ...c.make(built) }))
    report(await measureRounds(own, { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY }))
  } finally {
    useGlobal(undefined)()
    for (const close of closers) await close()
    for (const agent of [...rrAgents, ...plainAgents]) agent.destroy()
  }
}

async function main(): Promise<void> {
  ensureProxies()
  const startLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-agent-'))
  let nginx: ChildProcess | undefined
  try {
    const urls = await okBackends(dir, (child) => {
      nginx = child
    })
    const slices: Record<string, Slice[]> = {}
    for (const family of ['node-http', 'fetch'] as const) {
      console.error(`measuring the ${family} clients…`)
      Object.assign(slices, await runFamily(import.meta.filename, family, urls))
    }

    const cpu = cpus()
    console.log(
      `Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ${CONCURRENCY} concurrent, ` +
        `${ROUNDS} rounds of one ${SLICE_MS} ms slice per client in a balanced order, one process per family (node:http clients, ` +
        `global fetch clients); load average at the start ${startLoad}; nginx ${nginxVersion()} backends ` +
        "(1 worker, `return 200 'ok'`) on 127.0.0.1, sharing the cores with the client.\n",
    )
    console.log('| client | req/s | ratio | client CPU µs/req | CPU Δ µs/req | GC µs/req | p50 ms | p99 ms |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const client of clients) {
      const own = slices[client.name]!
      const base = slices[client.baseline]!
      const delta = median(own.map((s, i) => s.cpu - base[i]!.cpu))
      console.log(
        `| ${client.name} | ${Math.round(median(own.map((s) => s.rps))).toLocaleString('en-US')} | ` +
          `${median(own.map((s, i) => s.rps / base[i]!.rps)).toFixed(2)}× | ${median(own.map((s) => s.cpu)).toFixed(1)} | ` +
          `${client.baseline === client.name ? '' : signed(delta)} | ` +
          `${median(own.map((s) => s.gc)).toFixed(1)} | ${median(own.map((s) => s.p50)).toFixed(2)} | ` +
          `${median(own.map((s) => s.p99)).toFixed(2)} |`,
      )
    }
    console.log(
      '\nMedians over rounds. ratio / CPU Δ: the medians of per-round req/s ratios and CPU differences to the ' +
        'hand-rolled baseline of the same client kind (http.request, got, global fetch) run in the same round; ' +
        'for the `timeout: 0` row, to the keep-alive-only agents. ' +
        `client CPU: the family process only; GC: collector pauses, part of the CPU. Load average at the end: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')}.`,
    )
  } finally {
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve))
      nginx.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

const child = childOf<string[]>()
if (child === undefined) await main()
else await measureFamily(child.family, child.context)
