// Zone-aware routing (docs/zones.md, docs/benchmarks.md#zones): the per-call cost of `localZone`,
// and call latency over loopback when crossing a zone costs CROSS_MS, beside what a user would do
// without it: a zone-blind balancer, or the other zones as a backup priority level.
// Run: node bench/zones.ts   (Node 22: npx -y -p node@22 node --experimental-strip-types bench/zones.ts)
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Balancer, type EndpointInput } from '../src/index.ts'
import { fmt, latencies, nsPerOp, quantile, table } from './lib.ts'

const ITERATIONS = 200_000
const CROSS_MS = 5
const SLOW_LOCAL_MS = 50
const CONCURRENCY = 8
const RUN_MS = 4_000
const WARMUP_MS = 12_000

const zoneOf = (i: number) => ['a', 'b', 'c'][Math.floor(i / 3)]!
const fn = async () => 1

// 1. Per-call cost, no I/O: 9 endpoints in 3 zones.
const fake: EndpointInput[] = Array.from({ length: 9 }, (_, i) => ({
  url: `http://10.0.0.${i + 1}:80`,
  zone: zoneOf(i),
}))
async function overhead(balancer: Balancer): Promise<number> {
  const ns = await nsPerOp(async (n) => {
    for (let i = 0; i < n; i++) await balancer.call(fn)
  }, ITERATIONS)
  await balancer.close()
  return ns
}
const blindNs = await overhead(new Balancer({ endpoints: fake }))
const zonedNs = await overhead(new Balancer({ endpoints: fake, localZone: 'a' }))
const backupNs = await overhead(
  new Balancer({ endpoints: fake.map((e, i) => ({ ...(e as object), priority: i < 3 ? 0 : 1 }) as EndpointInput) }),
)

// 2. Latency over loopback. Backends in their own process; zones b and c answer CROSS_MS late.
const strip = process.features.typescript ? [] : ['--experimental-strip-types']
async function backends(delays: number[]) {
  const child = spawn(
    process.execPath,
    [...strip, fileURLToPath(new URL('_delay-backends.ts', import.meta.url)), delays.join(',')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const { ports } = JSON.parse(
    await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
  ) as { ports: number[] }
  return { child, endpoints: ports.map((p, i) => ({ url: `http://127.0.0.1:${p}`, zone: zoneOf(i) })) }
}

async function measure(options: (endpoints: EndpointInput[]) => Balancer, delays: number[]) {
  const { child, endpoints } = await backends(delays)
  const balancer = options(endpoints)
  const one = () => balancer.call(async (e) => (await fetch(e.resolve('/'))).text())
  await latencies(one, CONCURRENCY, WARMUP_MS) // warm-up: connections, estimates, the first probes
  const ms = await latencies(one, CONCURRENCY, RUN_MS)
  await balancer.close()
  child.kill()
  return ms
}
const healthy = [0, 0, 0, CROSS_MS, CROSS_MS, CROSS_MS, CROSS_MS, CROSS_MS, CROSS_MS]
const slowLocal = [SLOW_LOCAL_MS, SLOW_LOCAL_MS, SLOW_LOCAL_MS, ...healthy.slice(3)]
const blind = (endpoints: EndpointInput[]) => new Balancer({ endpoints })
// Probes every second instead of every 10 s, so that the other zones are known within the warm-up.
const zoned = (endpoints: EndpointInput[]) =>
  new Balancer({ endpoints, localZone: 'a', zoneAware: { latency: { probeInterval: 1_000 } } })
const backup = (endpoints: EndpointInput[]) =>
  new Balancer({ endpoints: endpoints.map((e, i) => ({ ...(e as object), priority: i < 3 ? 0 : 1 }) as EndpointInput) })

const rows: (string | number)[][] = []
for (const [scenario, delays] of [
  ...(process.argv.includes('--slow-only') ? [] : ([['local zone healthy', healthy]] as const)),
  [`local zone ${SLOW_LOCAL_MS / CROSS_MS}× slower`, slowLocal],
] as const) {
  for (const [name, make] of [
    ['zone-blind (p2c-ewma)', blind],
    ['other zones as priority 1', backup],
    ['`localZone: a` (probes every 1 s)', zoned],
  ] as const) {
    const ms = await measure(make, [...delays])
    rows.push([scenario, name, fmt(quantile(ms, 0.5), 2), fmt(quantile(ms, 0.99), 2), fmt(ms.length / (RUN_MS / 1000))])
  }
}

console.log(
  `Node ${process.version}; ${ITERATIONS.toLocaleString('en-US')} sequential calls × 7 runs, median ns per call\n`,
)
console.log(
  table(
    ['balancer (9 endpoints, 3 zones)', 'ns / call'],
    [
      ['zone-blind', fmt(blindNs)],
      ['`localZone: a`', fmt(zonedNs)],
      ['other zones as priority 1', fmt(backupNs)],
    ],
  ),
)
console.log(
  `\nHTTP over loopback, ${CONCURRENCY} calls at a time for ${RUN_MS / 1000} s; zones b and c answer ${CROSS_MS} ms late (the cross-zone cost)\n`,
)
console.log(table(['scenario', 'balancer', 'p50 ms', 'p99 ms', 'calls/s'], rows))
