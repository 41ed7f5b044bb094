// Retry amplification under a total outage (docs/benchmarks.md#retries-under-a-total-outage; the
// bound, ≤ 1.2× plus the budget's floor: docs/retries.md#the-retry-budget): every backend answers
// 503; idempotent calls at concurrency 32; attempts per call with keel's retry budget, without it,
// and with a plain p-retry loop (retries: 2) as usually configured — all in one run, against the
// same three node:http servers on 127.0.0.1.
// Run: node bench/retry-amplification.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pRetry from 'p-retry'
import { Balancer, type BalancerOptions } from '../src/index.ts'
import { closedLoop, fmt, table } from './lib.ts'

const CALLS = 5_000
const CONCURRENCY = 32

let served = 0
const servers: Server[] = await Promise.all(
  [0, 1, 2].map(
    () =>
      new Promise<Server>((resolve) => {
        const s = createServer((_req, res) => {
          served++
          res.statusCode = 503
          res.end()
        })
        s.listen(0, '127.0.0.1', () => resolve(s))
      }),
  ),
)
const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)

async function get(url: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(url, signal === undefined ? {} : { signal })
  await res.arrayBuffer()
  if (res.status >= 500) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
  return 'ok'
}

async function run(call: (i: number) => Promise<unknown>): Promise<{ perCall: number; seconds: number }> {
  served = 0
  const started = performance.now()
  // Every call fails (all backends answer 503): only the attempts it took count.
  await closedLoop(CALLS, CONCURRENCY, async (i) => void (await call(i)))
  return { perCall: served / CALLS, seconds: (performance.now() - started) / 1000 }
}

async function keel(options: BalancerOptions) {
  const balancer = new Balancer({ endpoints: urls, ...options })
  const result = await run(() => balancer.call((e, a) => get(e.resolve('/'), a.signal), { idempotent: true }))
  await balancer.close()
  return result
}

const fast = { minTimeout: 1, maxTimeout: 5 }
const rows: (string | number)[][] = []
const budget = await keel({ retry: fast })
const floor = (10 * 10) / CALLS
rows.push([
  'keel, default budget (20% + 10/s over 10 s)',
  fmt(budget.perCall, 3),
  `≤ ${fmt(1.2 + floor, 3)} (1.2 + floor ${fmt(floor, 3)})`,
  fmt(budget.seconds, 2),
])
const noBudget = await keel({ retry: { ...fast, budget: false } })
rows.push(['keel, budget off (retries: 2)', fmt(noBudget.perCall, 3), '3', fmt(noBudget.seconds, 2)])
let i = 0
const plain = await run(() => pRetry(() => get(urls[i++ % 3]!), { retries: 2, minTimeout: 1, maxTimeout: 5 }))
rows.push(['p-retry, retries: 2, round-robin URLs', fmt(plain.perCall, 3), '3', fmt(plain.seconds, 2)])

console.log(
  `Node ${process.version}; ${fmt(CALLS)} idempotent calls, concurrency ${CONCURRENCY}, 3 backends all answering 503\n`,
)
console.log(table(['client', 'attempts per call', 'bound', 'seconds'], rows))
for (const s of servers) s.close()
