// Hedging (docs/benchmarks.md#hedging, docs/hedging.md): three node:http servers on 127.0.0.1, one
// of which stalls every 20th request it receives for 1 s. Closed loop, idempotent GETs through
// `balancer.call` + fetch; p50/p99/p99.9 and attempts per call with and without hedging, in one run.
// Goal: p99.9 ≥ 10× lower for ≤ 5% extra attempts.
// Run: node bench/hedging.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer, type HedgeOptions } from '../src/index.ts'
import { closedLoop, fmt, quantile, table } from './lib.ts'

const CALLS = 6_000
const CONCURRENCY = 16

let attempts = 0
function server(stallEvery: number): Promise<Server> {
  let n = 0
  return new Promise((resolve) => {
    const s = createServer((_req, res) => {
      attempts++
      n++
      if (stallEvery > 0 && n % stallEvery === 0) {
        const timer = setTimeout(() => res.end('late'), 1_000)
        res.on('close', () => clearTimeout(timer))
      } else {
        res.end('ok')
      }
    })
    s.keepAliveTimeout = 5_000
    s.listen(0, '127.0.0.1', () => resolve(s))
  })
}

const servers = [await server(20), await server(0), await server(0)]
const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)

async function run(hedge: HedgeOptions | false) {
  const balancer = new Balancer({ endpoints: urls, picker: 'round-robin', hedge })
  const latencies: number[] = []
  attempts = 0
  const started = performance.now()
  const { errors } = await closedLoop(
    CALLS,
    CONCURRENCY,
    async () => {
      await balancer.call(
        async (e, a) => {
          const res = await fetch(e.resolve('/'), { signal: a.signal })
          return res.text()
        },
        { idempotent: true },
      )
    },
    { latencies },
  )
  if (errors.length > 0) throw errors[0]
  const seconds = (performance.now() - started) / 1000
  await balancer.close()
  latencies.sort((a, b) => a - b)
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    extra: attempts / CALLS - 1,
    rate: CALLS / seconds,
  }
}

const rows: (string | number)[][] = []
const baseline = await run(false)
for (const [label, hedge] of [
  ['no hedging', false],
  ['hedge after 20 ms', { delay: 20 }],
  ["hedge at the p95 ('p95')", { delay: 'p95' }],
] as const) {
  const r = label === 'no hedging' ? baseline : await run(hedge)
  rows.push([
    label,
    fmt(r.p50, 2),
    fmt(r.p99, 1),
    fmt(r.p999, 1),
    `${fmt(baseline.p999 / r.p999, 1)}×`,
    `${fmt(r.extra * 100, 2)}%`,
    fmt(r.rate),
  ])
}
console.log(
  `Node ${process.version}; ${fmt(CALLS)} idempotent GETs, concurrency ${CONCURRENCY}, round-robin over 3 servers, one stalling every 20th request it gets for 1 s\n`,
)
console.log(table(['client', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99.9 vs none', 'extra attempts', 'calls/s'], rows))
for (const s of servers) s.close()
