// node:http clients over loopback: keel's BalancerAgent against a hand-rolled round-robin over one
// keep-alive node:http Agent per backend (what a user would write instead), with http.request and
// with got; and Node's global fetch through OriginRouter against global fetch sent round-robin to
// the backends' own URLs. Three nginx backends answer `200 ok` at once.
//
// Run: node bench/http-agent.ts [--seconds 1] [--rounds 6] [--concurrency 32]
// Installs nginx from Debian's packages when missing (needs root), starts it on 127.0.0.1 with a
// generated config in a temp dir and stops it at the end.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import got from 'got'
import { Agent, type Dispatcher, setGlobalDispatcher } from 'undici'
import { BalancerAgent } from '../src/adapters/http-agent/index.ts'
import { OriginRouter } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { ensureProxies, freePort, listening, nginxConfig, nginxVersion } from './proxies.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '32' },
  },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONCURRENCY = Number(values.concurrency)
const WARMUP_MS = 500

/** A closed loop: `CONCURRENCY` workers, each sending its next request when the last completes. */
async function closedLoop(one: () => Promise<void>, ms: number): Promise<number[]> {
  const samples: number[] = []
  const end = performance.now() + ms
  const worker = async () => {
    while (performance.now() < end) {
      const start = performance.now()
      await one()
      samples.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return samples
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

/** One GET with http.request through `agent`, its body read whole. */
function httpGet(url: string, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.on('data', () => {})
        res.on('end', resolve)
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

interface Client {
  readonly name: string
  readonly baseline: string
  /** What must be in place while it runs (the global dispatcher). */
  readonly before?: () => void
  readonly one: () => Promise<void>
}

const RR_HTTP = 'hand-rolled round-robin, 3 Agents, http.request'
const RR_GOT = 'hand-rolled round-robin, 3 Agents, got'
const RR_FETCH = 'global fetch round-robin to 3 URLs'

async function main(): Promise<void> {
  ensureProxies()
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-agent-'))
  let nginx: ChildProcess | undefined
  const closers: (() => unknown)[] = []
  const globalStore = globalThis as unknown as Record<symbol, unknown>
  const keys = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')]
  const nodeGlobal = keys.map((k) => globalStore[k])
  const restoreGlobal = () => {
    for (const [i, k] of keys.entries()) globalStore[k] = nodeGlobal[i]
  }
  try {
    const ports = [await freePort(), await freePort(), await freePort()]
    const servers = ports.map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 'ok'; } }`).join('\n')
    nginx = spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', nginxConfig(dir, 'backends', servers)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    for (const p of ports) await listening(p, nginx)
    const urls = ports.map((p) => `http://127.0.0.1:${p}`)

    // What Node's global agent uses since Node 19, for the baselines and (by default) for keel.
    const agentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const
    const rrAgents = urls.map(() => new http.Agent(agentOptions))
    closers.push(() => {
      for (const a of rrAgents) a.destroy()
    })
    let cursor = 0
    const balancer = (picker: 'p2c-ewma' | 'round-robin') => {
      const b = new Balancer({ endpoints: urls, picker })
      closers.push(() => b.close())
      return b
    }
    const p2c = new BalancerAgent(balancer('p2c-ewma'))
    const rr = new BalancerAgent(balancer('round-robin'))
    const gotAgent = new BalancerAgent(balancer('round-robin'))
    closers.push(() => {
      for (const a of [p2c, rr, gotAgent]) a.destroy()
    })
    const router = new OriginRouter({ 'http://users.internal': balancer('round-robin') })
    const routerP2c = new OriginRouter({ 'http://users.internal': balancer('p2c-ewma') })
    const undici8 = new Agent()
    closers.push(
      () => router.close(),
      () => routerP2c.close(),
      () => undici8.close(),
    )
    const useGlobal = (dispatcher: Dispatcher | undefined) => () => {
      if (dispatcher === undefined) restoreGlobal()
      else setGlobalDispatcher(dispatcher)
    }
    let fetchCursor = 0
    const fetchRr = async () => void (await (await fetch(`${urls[fetchCursor++ % 3]}/`)).text())
    const fetchService = async () => void (await (await fetch('http://users.internal/')).text())
    const gotOptions = { retry: { limit: 0 } } as const

    const clients: Client[] = [
      { name: RR_HTTP, baseline: RR_HTTP, one: () => httpGet(`${urls[cursor % 3]}/`, rrAgents[cursor++ % 3]!) },
      {
        name: 'keel BalancerAgent (round-robin), http.request',
        baseline: RR_HTTP,
        one: () => httpGet('http://users.internal/', rr),
      },
      {
        name: 'keel BalancerAgent (p2c-ewma), http.request',
        baseline: RR_HTTP,
        one: () => httpGet('http://users.internal/', p2c),
      },
      {
        name: RR_GOT,
        baseline: RR_GOT,
        one: async () => {
          const i = cursor++ % 3
          await got(`${urls[i]}/`, { ...gotOptions, agent: { http: rrAgents[i]! } }).text()
        },
      },
      {
        name: 'keel BalancerAgent (round-robin), got',
        baseline: RR_GOT,
        one: async () =>
          void (await got('http://users.internal/', { ...gotOptions, agent: { http: gotAgent } }).text()),
      },
      { name: RR_FETCH, baseline: RR_FETCH, before: useGlobal(undefined), one: fetchRr },
      {
        name: 'global fetch round-robin, undici 8 Agent as global',
        baseline: RR_FETCH,
        before: useGlobal(undici8),
        one: fetchRr,
      },
      {
        name: 'keel OriginRouter (round-robin), global fetch',
        baseline: RR_FETCH,
        before: useGlobal(router),
        one: fetchService,
      },
      {
        name: 'keel OriginRouter (p2c-ewma), global fetch',
        baseline: RR_FETCH,
        before: useGlobal(routerP2c),
        one: fetchService,
      },
    ]
    for (const client of clients) {
      client.before?.()
      await closedLoop(client.one, WARMUP_MS)
    }
    const rows = new Map(
      clients.map((c) => [
        c.name,
        { rps: [] as number[], cpu: [] as number[], ratio: [] as number[], p50: [] as number[], p99: [] as number[] },
      ]),
    )
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated so no client always runs first or last; each ratio pairs a client with its
      // baseline's run in the same round, which cancels most of the drift on a shared machine.
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!)
      for (const client of order) {
        client.before?.()
        await closedLoop(client.one, WARMUP_MS / 5)
        const cpuBefore = process.cpuUsage()
        const samples = await closedLoop(client.one, SECONDS * 1000)
        const cpu = process.cpuUsage(cpuBefore)
        samples.sort((a, b) => a - b)
        const row = rows.get(client.name)!
        row.rps.push(samples.length / SECONDS)
        row.cpu.push((cpu.user + cpu.system) / samples.length)
        row.p50.push(percentile(samples, 0.5))
        row.p99.push(percentile(samples, 0.99))
      }
      for (const client of clients) {
        const row = rows.get(client.name)!
        row.ratio.push(row.rps[round]! / rows.get(client.baseline)!.rps[round]!)
      }
      console.error(`round ${round + 1}/${ROUNDS} done`)
    }
    restoreGlobal()

    const cpu = cpus()
    console.log(
      `Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ${CONCURRENCY} concurrent, ` +
        `${ROUNDS} rounds of ${SECONDS} s per client; nginx ${nginxVersion()} backends (1 worker, \`return 200 'ok'\`) ` +
        'on 127.0.0.1, sharing the cores with the client.\n',
    )
    console.log('| client | req/s | ratio | client CPU µs/req | p50 ms | p99 ms |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
    for (const client of clients) {
      const row = rows.get(client.name)!
      console.log(
        `| ${client.name} | ${Math.round(median(row.rps)).toLocaleString('en-US')} | ${median(row.ratio).toFixed(2)}× | ` +
          `${median(row.cpu).toFixed(1)} | ${median(row.p50).toFixed(2)} | ${median(row.p99).toFixed(2)} |`,
      )
    }
    console.log(
      '\nMedians over rounds. ratio: the median of per-round req/s ratios to the hand-rolled baseline of the same ' +
        'client kind (http.request, got, global fetch) run in the same round. client CPU: this process only.',
    )
  } finally {
    restoreGlobal()
    for (const close of closers) await close()
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve))
      nginx.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
