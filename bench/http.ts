// HTTP over loopback (docs/benchmarks.md#http-over-loopback): keel's BalancerDispatcher and
// createFetch against what a user would pick instead, all with DEFAULT options: undici's
// BalancedPool and a hand-rolled round-robin over three undici Pools (for the dispatcher), a
// hand-rolled round-robin over global fetch (for createFetch); with a raw Pool to one backend and
// nginx least_conn / HAProxy leastconn as central proxies reported beside them. Three nginx
// backends answer `200 ok` at once. Client CPU per request is this process's CPU time: on a shared
// machine it is steadier than req/s.
//
// To add a client, add an entry to `clients` with the baseline it is compared to (a client of the
// same kind, measured in the same round).
//
// Run: node bench/http.ts [--seconds 1] [--rounds 8] [--concurrency 32]   (about 2 minutes)
// Installs nginx and haproxy from Debian's packages when missing (needs root), starts them on
// 127.0.0.1 with generated configs in a temp dir and stops them at the end.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BalancedPool, Pool } from 'undici'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { BalancerDispatcher } from '../src/adapters/undici/index.ts'
import { Balancer } from '../src/index.ts'
import { latencies, median, quantile } from './lib.ts'
import {
  ensureProxies,
  freePort,
  haproxyConfig,
  haproxyVersion,
  listening,
  nginxConfig,
  nginxVersion,
} from './proxies.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '32' },
  },
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONCURRENCY = Number(values.concurrency)
const WARMUP_MS = 500

interface Client {
  readonly name: string
  readonly topology: string
  /** The client this one's ratio and CPU Δ are taken against, measured next to it in every round. */
  readonly baseline: string
  /** A second reference for undici clients: undici's BalancedPool (what a dispatcher user swaps out). */
  readonly versus?: string
  readonly one: () => Promise<void>
}

interface Row {
  rps: number[]
  /** This process's CPU time per request, µs (user + system). */
  cpu: number[]
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

async function main(): Promise<void> {
  ensureProxies()
  const startLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-http-'))
  const children: ChildProcess[] = []
  const closers: (() => Promise<unknown>)[] = []
  try {
    const backendPorts = [await freePort(), await freePort(), await freePort()]
    const nginxPort = await freePort()
    const haproxyPort = await freePort()
    const servers = backendPorts
      .map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 'ok'; } }`)
      .join('\n')
    const upstream = backendPorts.map((p) => `server 127.0.0.1:${p};`).join(' ')
    const backendsConf = nginxConfig(dir, 'backends', servers)
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
    const backends = start('nginx', ['-p', dir, '-e', join(dir, 'backends.error.log'), '-c', backendsConf])
    for (const p of backendPorts) await listening(p, backends)
    await listening(nginxPort, start('nginx', ['-p', dir, '-e', join(dir, 'proxy.error.log'), '-c', proxyConf]))
    await listening(haproxyPort, start('haproxy', ['-db', '-f', haproxyConf]))

    const urls = backendPorts.map((p) => `http://127.0.0.1:${p}`)
    const get = { path: '/', method: 'GET' } as const
    const pool = <T extends { close(): Promise<void> }>(p: T): T => {
      closers.push(() => p.close())
      return p
    }
    const single = pool(new Pool(urls[0]!))
    const rrPools = urls.map((u) => pool(new Pool(u)))
    let cursor = 0
    const balancedPool = pool(new BalancedPool(urls))
    const nginxPool = pool(new Pool(`http://127.0.0.1:${nginxPort}`))
    const haproxyPool = pool(new Pool(`http://127.0.0.1:${haproxyPort}`))
    const keel = new Balancer({ endpoints: urls })
    const keelRr = new Balancer({ endpoints: urls, picker: 'round-robin' })
    closers.push(
      () => keel.close(),
      () => keelRr.close(),
    )
    const dispatcher = new BalancerDispatcher(keel)
    const dispatcherRr = new BalancerDispatcher(keelRr)
    const origin = { ...get, origin: 'http://service.internal' }
    const balancedFetch = createFetch(keel)
    let fetchCursor = 0

    const keelNoBreaker = new Balancer({ endpoints: urls, breaker: false })
    closers.push(() => keelNoBreaker.close())
    const dispatcherNoBreaker = new BalancerDispatcher(keelNoBreaker)
    const keelCall = new Balancer({ endpoints: urls })
    closers.push(() => keelCall.close())
    const callPools = new Map(urls.map((u, i) => [u, rrPools[i]!]))
    const direct = 'client → 3 backends'
    const proxied = 'client → proxy → 3 backends'

    const clients: Client[] = [
      {
        name: RR,
        topology: direct,
        baseline: RR,
        one: async () => void (await (await rrPools[cursor++ % 3]!.request(get)).body.text()),
      },
      {
        name: 'keel BalancerDispatcher (p2c-ewma)',
        topology: direct,
        baseline: RR,
        versus: BALANCED_POOL,
        one: async () => void (await (await dispatcher.request(origin)).body.text()),
      },
      {
        name: 'keel BalancerDispatcher (round-robin)',
        topology: direct,
        baseline: RR,
        versus: BALANCED_POOL,
        one: async () => void (await (await dispatcherRr.request(origin)).body.text()),
      },
      {
        name: 'keel BalancerDispatcher (p2c-ewma, breaker off)',
        topology: direct,
        baseline: RR,
        versus: BALANCED_POOL,
        one: async () => void (await (await dispatcherNoBreaker.request(origin)).body.text()),
      },
      {
        name: 'keel balancer.call around Pool.request',
        topology: direct,
        baseline: RR,
        versus: BALANCED_POOL,
        one: async () =>
          void (await keelCall.call(async (endpoint) =>
            (await callPools.get(endpoint.origin)!.request(get)).body.text(),
          )),
      },
      {
        name: 'raw Pool, 1 backend',
        topology: 'client → 1 backend',
        baseline: RR,
        one: async () => void (await (await single.request(get)).body.text()),
      },
      {
        name: BALANCED_POOL,
        topology: direct,
        baseline: RR,
        one: async () => void (await (await balancedPool.request(get)).body.text()),
      },
      {
        name: 'nginx least_conn (1 worker)',
        topology: proxied,
        baseline: RR,
        one: async () => void (await (await nginxPool.request(get)).body.text()),
      },
      {
        name: 'HAProxy leastconn (1 thread)',
        topology: proxied,
        baseline: RR,
        one: async () => void (await (await haproxyPool.request(get)).body.text()),
      },
      {
        name: FETCH_RR,
        topology: direct,
        baseline: FETCH_RR,
        one: async () => void (await (await fetch(`${urls[fetchCursor++ % 3]}/`)).text()),
      },
      {
        name: 'keel createFetch (global fetch)',
        topology: direct,
        baseline: FETCH_RR,
        one: async () => void (await (await balancedFetch('/')).text()),
      },
    ]
    // Every client's first requests open its connections: warm each up before it is measured.
    for (const client of clients) await latencies(client.one, CONCURRENCY, WARMUP_MS)

    const rows = new Map<string, Row>(
      clients.map((c) => [
        c.name,
        { rps: [], cpu: [], ratio: [], cpuDelta: [], versus: [], versusCpu: [], p50: [], p99: [] },
      ]),
    )
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no client always runs first or last (thermal and GC drift); each
      // ratio pairs a client with its baseline's run in the same round, which cancels most of
      // the load other processes put on a shared machine.
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!)
      for (const client of order) {
        await latencies(client.one, CONCURRENCY, WARMUP_MS / 5)
        const cpuBefore = process.cpuUsage()
        const samples = await latencies(client.one, CONCURRENCY, SECONDS * 1000)
        const cpuUsed = process.cpuUsage(cpuBefore)
        const count = samples.length
        const row = rows.get(client.name)!
        row.rps.push(count / SECONDS)
        row.cpu.push((cpuUsed.user + cpuUsed.system) / count)
        row.p50.push(quantile(samples, 0.5))
        row.p99.push(quantile(samples, 0.99))
      }
      for (const client of clients) {
        const row = rows.get(client.name)!
        const base = rows.get(client.baseline)!
        row.ratio.push(row.rps[round]! / base.rps[round]!)
        row.cpuDelta.push(row.cpu[round]! - base.cpu[round]!)
        if (client.versus !== undefined) {
          const versus = rows.get(client.versus)!
          row.versus.push(row.rps[round]! / versus.rps[round]!)
          row.versusCpu.push(row.cpu[round]! - versus.cpu[round]!)
        }
      }
      console.error(`round ${round + 1}/${ROUNDS} done`)
    }

    const cpu = cpus()
    console.log(
      `Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim()}; closed loop, ${CONCURRENCY} concurrent, ` +
        `${ROUNDS} rounds of ${SECONDS} s per client; load average at the start ${startLoad}; nginx ${nginxVersion()} backends (1 worker, \`return 200 'ok'\`), ` +
        `${haproxyVersion()}; everything on 127.0.0.1, client, backends and proxies sharing the cores.\n`,
    )
    const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`
    console.log(
      '| client | topology | req/s | ratio | client CPU µs/req | CPU Δ µs/req | vs BalancedPool | CPU Δ vs BalancedPool | p50 ms | p99 ms |',
    )
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const client of clients) {
      const row = rows.get(client.name)!
      const own = client.baseline === client.name
      const versus = client.versus === undefined
      console.log(
        `| ${client.name} | ${client.topology} | ${Math.round(median(row.rps)).toLocaleString('en-US')} | ` +
          `${median(row.ratio).toFixed(2)}× | ${median(row.cpu).toFixed(1)} | ${own ? '' : signed(median(row.cpuDelta))} | ` +
          `${versus ? '' : `${median(row.versus).toFixed(2)}×`} | ${versus ? '' : signed(median(row.versusCpu))} | ` +
          `${median(row.p50).toFixed(2)} | ${median(row.p99).toFixed(2)} |`,
      )
    }
    console.log(
      '\nMedians over rounds. ratio / CPU Δ: the medians of per-round req/s ratios and CPU differences to the ' +
        'hand-rolled round-robin of the same client kind (undici Pools, or global fetch) run in the same round; ' +
        'vs BalancedPool: the same against undici BalancedPool. client CPU: this process only (a proxy spends ' +
        `its own CPU on top). Load average at the end: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')}.`,
    )
    await dispatcher.close()
    await dispatcherRr.close()
  } finally {
    await Promise.allSettled(closers.map((close) => close()))
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

await main()
