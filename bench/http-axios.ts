// axios over loopback (docs/benchmarks.md#axios): keel's axiosAdapter against what an axios user
// would write instead, a hand-rolled round-robin over one keep-alive node:http Agent per backend
// (the same Agent options keel's per-endpoint agents use), and a plain `balancer.call` around the
// same axios request (keel's decision path alone); and what an idle limit costs: the baseline
// with axios' `timeout` set to keel's `idleTimeout`, keel with `idleTimeout: 0`. Three nginx backends answer
// `200 ok` at once.
//
// The clients take turns in short slices in a balanced order (bench/_rounds.ts says why), in a
// child process. A second instance of the baseline is measured like any client: how far it reads
// from the first is the run's noise. With `--runs N` the whole measurement is made N times, each
// in a new process: rows pool every round of every run, and a last table gives each run's own
// median (what moves a whole run, which one run's rounds cannot show).
//
// Run: node bench/http-axios.ts [--slice-ms 250] [--rounds 24] [--concurrency 32] [--runs 1]   (about 1 minute a run)
// Installs nginx from Debian's packages when missing (needs root), starts it on 127.0.0.1 with a
// generated config in a temp dir and stops it at the end.
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import axios from 'axios'
import { axiosAdapter } from '../src/adapters/axios/index.ts'
import { Balancer } from '../src/index.ts'
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
import { ensureProxies, nginxVersion, okBackends } from './proxies.ts'

const { sliceMs: SLICE_MS, rounds: ROUNDS, concurrency: CONCURRENCY } = roundArgs()
const RUNS = runsArg()

/** What keel's per-endpoint agents use (Node's global agent defaults): the baseline gets the same. */
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const

const RR = 'hand-rolled round-robin, 3 keep-alive Agents'

/** The axios clients over the backends at `urls`, and what closes them. */
function axiosClients(urls: readonly string[]): { clients: BenchClient[]; close: () => Promise<unknown> } {
  const closers: (() => Promise<unknown>)[] = []
  const agents = urls.map(() => new Agent(AGENT_OPTIONS))
  const plain = axios.create({ adapter: 'http' })
  const balancer = (options: object) => {
    const b = new Balancer({ endpoints: [...urls], ...options })
    closers.push(() => b.close())
    return b
  }
  const keel = axios.create({ baseURL: 'http://service.internal', adapter: axiosAdapter(balancer({})) })
  const keelRr = axios.create({
    baseURL: 'http://service.internal',
    adapter: axiosAdapter(balancer({ picker: 'round-robin' })),
  })
  const keelRrNoIdle = axios.create({
    baseURL: 'http://service.internal',
    adapter: axiosAdapter(balancer({ picker: 'round-robin' }), { idleTimeout: 0 }),
  })
  const callBalancer = balancer({ picker: 'round-robin' })
  const agentOf = new Map(urls.map((u, i) => [u, agents[i]!]))
  const roundRobin = (timeout?: number) => {
    let cursor = 0
    return async () => {
      const i = cursor++ % 3
      await plain.get(
        `${urls[i]}/`,
        timeout === undefined ? { httpAgent: agents[i] } : { httpAgent: agents[i], timeout },
      )
    }
  }
  const clients: BenchClient[] = [
    { name: RR, one: roundRobin() },
    // The same client twice: how far two identical clients read apart in one run (an A/A control).
    { name: `${RR}, a second one (the noise floor)`, one: roundRobin() },
    { name: 'keel axiosAdapter (p2c-ewma)', one: async () => void (await keel.get('/')) },
    { name: 'keel axiosAdapter (round-robin)', one: async () => void (await keelRr.get('/')) },
    // What an idle limit costs: axios' own `timeout` on the baseline (per request a timer and
    // listeners), and keel without its `idleTimeout` (kept by a sweep of its agents' busy sockets,
    // src/adapters/axios/idle-sweep.ts, nothing per request).
    { name: 'hand-rolled round-robin, `timeout: 15000`', one: roundRobin(15_000) },
    {
      name: 'keel axiosAdapter (round-robin, `idleTimeout: 0`)',
      one: async () => void (await keelRrNoIdle.get('/')),
    },
    {
      name: 'keel balancer.call around axios (round-robin)',
      one: async () =>
        void (await callBalancer.call((endpoint) =>
          plain.get(`${endpoint.origin}/`, { httpAgent: agentOf.get(endpoint.origin) }),
        )),
    },
  ]
  const close = async () => {
    for (const agent of agents) agent.destroy()
    await Promise.allSettled(closers.map((c) => c()))
  }
  return { clients, close }
}

/** One run, in a child process: measures the clients and hands their slices to the parent. */
async function measureChild(urls: readonly string[]): Promise<void> {
  const { clients, close } = axiosClients(urls)
  try {
    report(await measureRounds(clients, { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY }))
  } finally {
    await close()
  }
}

async function main(): Promise<void> {
  ensureProxies()
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-axios-'))
  let nginx: ChildProcess | undefined
  try {
    const urls = await okBackends(dir, (child) => {
      nginx = child
    })
    const load = [loadavg()[0]!]
    const slices = await pooledRuns(import.meta.filename, ['axios'], urls, RUNS)
    load.push(loadavg()[0]!)
    const base = slices[RR]!
    const names = Object.keys(slices)

    const cpu = cpus()
    console.log(
      `Node ${process.version}, axios ${axios.VERSION}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ` +
        `${CONCURRENCY} concurrent, ${ROUNDS} rounds of one ${SLICE_MS} ms slice per client in a balanced order` +
        `${RUNS > 1 ? `, ${RUNS} runs pooled (each in a new process)` : ''}; nginx ${nginxVersion()} ` +
        `backends (1 worker, \`return 200 'ok'\`) on 127.0.0.1; load average ${load[0]!.toFixed(1)} at the start, ` +
        `${load[1]!.toFixed(1)} at the end.\n`,
    )
    console.log(
      '| client | req/s | ratio (95% CI) | client CPU µs/req | CPU over baseline µs/req (95% CI) | GC µs/req | p50 ms | p99 ms |',
    )
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    const times = (x: number) => `${x.toFixed(2)}×`
    const ratios = (name: string) => slices[name]!.map((s, i) => s.rps / base[i]!.rps)
    const deltas = (name: string) => slices[name]!.map((s, i) => s.cpu - base[i]!.cpu)
    for (const name of names) {
      const own = slices[name]!
      const baseline = name === RR
      console.log(
        `| ${name} | ${Math.round(median(own.map((s) => s.rps))).toLocaleString('en-US')} | ` +
          `${baseline ? '1.00×' : withInterval(ratios(name), times)} | ${median(own.map((s) => s.cpu)).toFixed(1)} | ` +
          `${baseline ? '—' : withInterval(deltas(name), (x) => signed(x))} | ` +
          `${median(own.map((s) => s.gc)).toFixed(1)} | ${median(own.map((s) => s.p50)).toFixed(2)} | ` +
          `${median(own.map((s) => s.p99)).toFixed(2)} |`,
      )
    }
    if (RUNS > 1) {
      // One median per run: what moves a whole run shows here, not in the pooled rounds above.
      console.log(
        `\n| client | ratio, median of ${RUNS} runs (95% CI; under 6 runs, their range) | each run | CPU over baseline, median of runs | each run |\n| --- | --- | --- | --- | --- |`,
      )
      for (const name of names) {
        if (name === RR) continue
        console.log(`| ${name} | ${perRunCells(ratios(name), deltas(name), RUNS, ROUNDS)} |`)
      }
    }
    console.log(
      '\nMedians over rounds. ratio and CPU over baseline: medians of per-round differences to the hand-rolled ' +
        'round-robin run in the same round, with a distribution-free 95% interval (bench/lib.ts, `medianInterval`). ' +
        'client CPU: the measuring process only.',
    )
  } finally {
    if (nginx !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve))
      nginx.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

const child = childOf<string[]>()
if (child === undefined) await main()
else await measureChild(child.context)
