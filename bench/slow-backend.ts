// One slow backend of four (docs/benchmarks.md#one-slow-backend-of-four, docs/pickers/p2c-ewma.md):
// backends answering after 5, 5, 5 and 100 ms; a closed loop of 16 concurrent GETs through each
// client in turn, in one run. p99 with keel's default p2c-ewma vs round-robin, undici's
// BalancedPool, and nginx least_conn / HAProxy leastconn as central proxies (client → proxy → 4
// backends). Goal: p99 ≥ 5× lower than each of those.
// Run: node bench/slow-backend.ts [--seconds 6]   (installs nginx and haproxy when missing)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BalancedPool, Pool } from 'undici'
import { BalancerDispatcher } from '../src/adapters/undici/index.ts'
import { Balancer, type PickerName } from '../src/index.ts'
import { fmt, latencies, quantile, table } from './lib.ts'
import {
  ensureProxies,
  freePort,
  haproxyConfig,
  haproxyVersion,
  listening,
  nginxConfig,
  nginxVersion,
} from './proxies.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' } } })
const MS = Number(values.seconds) * 1000
const CONCURRENCY = 16
const DELAYS = [5, 5, 5, 100]

ensureProxies()
const dir = mkdtempSync(join(tmpdir(), 'keel-bench-slow-'))
const strip = process.features.typescript ? [] : ['--experimental-strip-types']
const backendProcess = spawn(
  process.execPath,
  [...strip, fileURLToPath(new URL('_delay-backends.ts', import.meta.url)), DELAYS.join(',')],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
const { ports } = JSON.parse(
  await new Promise<string>((resolve) => createInterface({ input: backendProcess.stdout! }).once('line', resolve)),
) as { ports: number[] }
const urls = ports.map((p) => `http://127.0.0.1:${p}`)
const upstream = ports.map((p) => `server 127.0.0.1:${p};`).join(' ')
const nginxPort = await freePort()
const haproxyPort = await freePort()
const nginx = spawn(
  'nginx',
  [
    '-p',
    dir,
    '-e',
    join(dir, 'error.log'),
    '-c',
    nginxConfig(
      dir,
      'proxy',
      `  upstream backends { least_conn; ${upstream} keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://backends; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    ),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
)
const haproxy = spawn('haproxy', ['-db', '-f', haproxyConfig(dir, haproxyPort, ports)], {
  stdio: ['ignore', 'ignore', 'inherit'],
})
await listening(nginxPort, nginx)
await listening(haproxyPort, haproxy)

const get = { path: '/', method: 'GET' } as const
const counter = urls.map((u) => new Pool(u))
async function counts(): Promise<number[]> {
  return Promise.all(
    counter.map(async (p) => Number(await (await p.request({ path: '/__count', method: 'GET' })).body.text())),
  )
}

async function run(one: () => Promise<void>) {
  // Warm up (connections, JIT, estimates), then measure.
  await latencies(one, CONCURRENCY, 1_000)
  await counts()
  const samples = await latencies(one, CONCURRENCY, MS)
  const served = await counts()
  const total = served.reduce((a, b) => a + b, 0)
  const [p50, p99, p999] = [0.5, 0.99, 0.999].map((q) => quantile(samples, q))
  return { p50: p50!, p99: p99!, p999: p999!, rps: samples.length / (MS / 1000), slowShare: served[3]! / total }
}

const dispatcher = (picker: PickerName) => {
  const balancer = new Balancer({ endpoints: urls, picker })
  const d = new BalancerDispatcher(balancer)
  return { one: async () => void (await (await d.request(get)).body.text()), close: () => balancer.close() }
}
const pool = (p: { request: Pool['request']; close(): Promise<void> }) => ({
  one: async () => void (await (await p.request(get)).body.text()),
  close: () => p.close(),
})

const clients = [
  ['keel, p2c-ewma (default)', 'client → 4 backends', () => dispatcher('p2c-ewma')],
  ['keel, least-request', 'client → 4 backends', () => dispatcher('least-request')],
  ['keel, round-robin', 'client → 4 backends', () => dispatcher('round-robin')],
  ['undici BalancedPool', 'client → 4 backends', () => pool(new BalancedPool(urls))],
  [
    `nginx ${nginxVersion()} least_conn`,
    'client → proxy → 4 backends',
    () => pool(new Pool(`http://127.0.0.1:${nginxPort}`)),
  ],
  [
    `${haproxyVersion()} leastconn`,
    'client → proxy → 4 backends',
    () => pool(new Pool(`http://127.0.0.1:${haproxyPort}`)),
  ],
] as const

const results: { name: string; topology: string; r: Awaited<ReturnType<typeof run>> }[] = []
try {
  for (const [name, topology, make] of clients) {
    const client = make()
    results.push({ name, topology, r: await run(client.one) })
    await client.close()
  }
} finally {
  for (const p of counter) await p.close()
  nginx.kill()
  haproxy.kill()
  backendProcess.kill()
  rmSync(dir, { recursive: true, force: true })
}
const keel = results[0]!.r
console.log(
  `Node ${process.version}; backends answering after ${DELAYS.join(' / ')} ms (node:http, own process); closed loop, ${CONCURRENCY} concurrent GETs, ${MS / 1000} s per client after a 1 s warm-up\n`,
)
console.log(
  table(
    ['client', 'topology', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'share to the slow one', "p99 vs keel's"],
    results.map(({ name, topology, r }) => [
      name,
      topology,
      fmt(r.rps),
      fmt(r.p50, 1),
      fmt(r.p99, 1),
      fmt(r.p999, 1),
      `${fmt(r.slowShare * 100, 2)}%`,
      `${fmt(r.p99 / keel.p99, 1)}×`,
    ]),
  ),
)
