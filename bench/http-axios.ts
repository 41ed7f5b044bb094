// axios over loopback (docs/benchmarks.md#axios): keel's axiosAdapter against what an axios user
// would write instead, a hand-rolled round-robin over one keep-alive node:http Agent per backend
// (the same Agent options keel's per-endpoint agents use), and a plain `balancer.call` around the
// same axios request (keel's decision path alone); and, like for like, the baseline with axios'
// `timeout` set to keel's `idleTimeout` and keel with `idleTimeout: 0`. Three nginx backends answer
// `200 ok` at once.
//
// The clients take turns in short slices in a balanced order (bench/_rounds.ts says why).
//
// Run: node bench/http-axios.ts [--slice-ms 250] [--rounds 24] [--concurrency 32]   (about 1 minute)
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
import { measureRounds, roundArgs } from './_rounds.ts'
import { median } from './lib.ts'
import { ensureProxies, nginxVersion, okBackends } from './proxies.ts'

const { sliceMs: SLICE_MS, rounds: ROUNDS, concurrency: CONCURRENCY } = roundArgs()

/** What keel's per-endpoint agents use (Node's global agent defaults): the baseline gets the same. */
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const

const RR = 'hand-rolled round-robin, 3 keep-alive Agents'

async function main(): Promise<void> {
  ensureProxies()
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-axios-'))
  let nginx: ChildProcess | undefined
  const closers: (() => Promise<unknown>)[] = []
  try {
    const urls = await okBackends(dir, (child) => {
      nginx = child
    })

    const agents = urls.map(() => new Agent(AGENT_OPTIONS))
    const plain = axios.create({ adapter: 'http' })
    let cursor = 0
    const balancer = (options: object) => {
      const b = new Balancer({ endpoints: urls, ...options })
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

    const clients = [
      {
        name: RR,
        one: async () => {
          const i = cursor++ % 3
          await plain.get(`${urls[i]}/`, { httpAgent: agents[i] })
        },
      },
      { name: 'keel axiosAdapter (p2c-ewma)', one: async () => void (await keel.get('/')) },
      { name: 'keel axiosAdapter (round-robin)', one: async () => void (await keelRr.get('/')) },
      // Like for like: keel's `idleTimeout` (15 s by default) is axios' `timeout`, a socket timer
      // and listener per request that the baseline does not have.
      {
        name: 'hand-rolled round-robin, `timeout: 15000`',
        one: async () => {
          const i = cursor++ % 3
          await plain.get(`${urls[i]}/`, { httpAgent: agents[i], timeout: 15_000 })
        },
      },
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
    const load = [loadavg()[0]!]
    const slices = await measureRounds(clients, { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY })
    load.push(loadavg()[0]!)
    const base = slices[RR]!

    const cpu = cpus()
    console.log(
      `Node ${process.version}, axios ${axios.VERSION}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ` +
        `${CONCURRENCY} concurrent, ${ROUNDS} rounds of one ${SLICE_MS} ms slice per client in a balanced order; nginx ${nginxVersion()} ` +
        `backends (1 worker, \`return 200 'ok'\`) on 127.0.0.1; load average ${load[0]!.toFixed(1)} at the start, ` +
        `${load[1]!.toFixed(1)} at the end.\n`,
    )
    console.log(
      '| client | req/s | ratio | client CPU µs/req | CPU over baseline µs/req | GC µs/req | p50 ms | p99 ms |',
    )
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const client of clients) {
      const own = slices[client.name]!
      const delta = median(own.map((s, i) => s.cpu - base[i]!.cpu))
      console.log(
        `| ${client.name} | ${Math.round(median(own.map((s) => s.rps))).toLocaleString('en-US')} | ` +
          `${median(own.map((s, i) => s.rps / base[i]!.rps)).toFixed(2)}× | ${median(own.map((s) => s.cpu)).toFixed(1)} | ` +
          `${client.name === RR ? '—' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)}`} | ` +
          `${median(own.map((s) => s.gc)).toFixed(1)} | ${median(own.map((s) => s.p50)).toFixed(2)} | ` +
          `${median(own.map((s) => s.p99)).toFixed(2)} |`,
      )
    }
    console.log(
      '\nMedians over rounds. ratio and CPU over baseline: medians of per-round differences to the hand-rolled ' +
        'round-robin run in the same round. client CPU: this process only.',
    )
    for (const agent of agents) agent.destroy()
  } finally {
    await Promise.allSettled(closers.map((close) => close()))
    if (nginx !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve))
      nginx.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
