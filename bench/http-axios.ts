// axios over loopback (docs/benchmarks.md#axios): keel's axiosAdapter against what an axios user
// would write instead, a hand-rolled round-robin over one keep-alive node:http Agent per backend
// (the same Agent options keel's per-endpoint agents use), and a plain `balancer.call` around the
// same axios request (keel's decision path alone). Three nginx backends answer `200 ok` at once.
//
// Run: node bench/http-axios.ts [--seconds 1] [--rounds 10] [--concurrency 32]
// Installs nginx from Debian's packages when missing (needs root), starts it on 127.0.0.1 with a
// generated config in a temp dir and stops it at the end.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import axios from 'axios'
import { axiosAdapter } from '../src/adapters/axios/index.ts'
import { Balancer } from '../src/index.ts'
import { latencies, median, quantile } from './lib.ts'
import { ensureProxies, freePort, listening, nginxConfig, nginxVersion } from './proxies.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
  },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONCURRENCY = Number(values.concurrency)
const WARMUP_MS = 500

/** What keel's per-endpoint agents use (Node's global agent defaults): the baseline gets the same. */
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const

interface Client {
  readonly name: string
  readonly one: () => Promise<void>
}

interface Row {
  rps: number[]
  /** This process's CPU time per request, µs (user + system). */
  cpu: number[]
  ratio: number[]
  cpuDelta: number[]
  p50: number[]
  p99: number[]
}

const RR = 'hand-rolled round-robin, 3 keep-alive Agents'

async function main(): Promise<void> {
  ensureProxies()
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-axios-'))
  let nginx: ChildProcess | undefined
  const closers: (() => Promise<unknown>)[] = []
  try {
    const ports = [await freePort(), await freePort(), await freePort()]
    const servers = ports.map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 'ok'; } }`).join('\n')
    const conf = nginxConfig(dir, 'backends', servers)
    nginx = spawn('nginx', ['-p', dir, '-e', join(dir, 'backends.error.log'), '-c', conf], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    for (const p of ports) await listening(p, nginx)
    const urls = ports.map((p) => `http://127.0.0.1:${p}`)

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
    const callBalancer = balancer({ picker: 'round-robin' })
    const agentOf = new Map(urls.map((u, i) => [u, agents[i]!]))

    const clients: Client[] = [
      {
        name: RR,
        one: async () => {
          const i = cursor++ % 3
          await plain.get(`${urls[i]}/`, { httpAgent: agents[i] })
        },
      },
      { name: 'keel axiosAdapter (p2c-ewma)', one: async () => void (await keel.get('/')) },
      { name: 'keel axiosAdapter (round-robin)', one: async () => void (await keelRr.get('/')) },
      {
        name: 'keel balancer.call around axios (round-robin)',
        one: async () =>
          void (await callBalancer.call((endpoint) =>
            plain.get(`${endpoint.origin}/`, { httpAgent: agentOf.get(endpoint.origin) }),
          )),
      },
    ]
    for (const client of clients) await latencies(client.one, CONCURRENCY, WARMUP_MS)

    const rows = new Map<string, Row>(
      clients.map((c) => [c.name, { rps: [], cpu: [], ratio: [], cpuDelta: [], p50: [], p99: [] }]),
    )
    const load = [loadavg()[0]!]
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated order: no client always runs first or last; each ratio pairs a client with the
      // baseline's run of the same round, which cancels most of the other processes' drift.
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!)
      for (const client of order) {
        await latencies(client.one, CONCURRENCY, WARMUP_MS / 5)
        const cpuBefore = process.cpuUsage()
        const samples = await latencies(client.one, CONCURRENCY, SECONDS * 1000)
        const used = process.cpuUsage(cpuBefore)
        const row = rows.get(client.name)!
        row.rps.push(samples.length / SECONDS)
        row.cpu.push((used.user + used.system) / samples.length)
        row.p50.push(quantile(samples, 0.5))
        row.p99.push(quantile(samples, 0.99))
      }
      const base = rows.get(RR)!
      for (const row of rows.values()) {
        row.ratio.push(row.rps[round]! / base.rps[round]!)
        row.cpuDelta.push(row.cpu[round]! - base.cpu[round]!)
      }
      load.push(loadavg()[0]!)
      console.error(`round ${round + 1}/${ROUNDS} done`)
    }

    const cpu = cpus()
    console.log(
      `Node ${process.version}, axios ${axios.VERSION}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ` +
        `${CONCURRENCY} concurrent, ${ROUNDS} rotated rounds of ${SECONDS} s per client; nginx ${nginxVersion()} ` +
        `backends (1 worker, \`return 200 'ok'\`) on 127.0.0.1; load average ${median(load).toFixed(1)} ` +
        `(${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}) during the rounds.\n`,
    )
    console.log('| client | req/s | ratio | client CPU µs/req | CPU over baseline µs/req | p50 ms | p99 ms |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const client of clients) {
      const row = rows.get(client.name)!
      console.log(
        `| ${client.name} | ${Math.round(median(row.rps)).toLocaleString('en-US')} | ${median(row.ratio).toFixed(2)}× | ` +
          `${median(row.cpu).toFixed(1)} | ${client.name === RR ? '—' : `${median(row.cpuDelta) >= 0 ? '+' : ''}${median(row.cpuDelta).toFixed(1)}`} | ` +
          `${median(row.p50).toFixed(2)} | ${median(row.p99).toFixed(2)} |`,
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
