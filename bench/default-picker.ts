// The default picker on real loopback backends through createFetch (global fetch), beside
// least-request and round-robin, in two scenarios where latency noise used to decide picks:
//
//  (a) three equal replicas (node:http, answering at once), one call at a time for 10 s: each
//      replica's share in every 2 s window. Fair is 33%; goal: the worst ≥ 25%.
//  (b) one replica answering after 40 ms and two after 1 ms, a closed loop of 8 concurrent calls
//      for 5 s after a 1 s warm-up: the slow one's share (goal < 1%) and p99 (goal < 10 ms).
//
// Backends run in their own process (bench/_delay-backends.ts). Each client is a fresh Balancer,
// so cold start (first connections, first estimates) is part of (a), as it is for a new user.
// Run: node bench/default-picker.ts [--seconds 10] [--slow-seconds 5]
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { Balancer, type PickerName } from '../src/index.ts'
import { fmt, latencies, quantile, table } from './lib.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'slow-seconds': { type: 'string', default: '5' },
    only: { type: 'string', default: 'a,b' },
    pickers: { type: 'string', default: 'p2c-ewma,least-request,round-robin' },
  },
})
const EVEN_MS = Number(values.seconds) * 1000
const SLOW_MS = Number(values['slow-seconds']) * 1000
const WINDOW_MS = 2_000
const PICKERS = values.pickers.split(',') as PickerName[]
const ONLY = values.only.split(',')

async function backends(delays: number[]): Promise<{ urls: string[]; counts(): Promise<number[]>; stop(): void }> {
  const strip = process.features.typescript ? [] : ['--experimental-strip-types']
  const child = spawn(
    process.execPath,
    [...strip, fileURLToPath(new URL('_delay-backends.ts', import.meta.url)), delays.join(',')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))
  const urls = (JSON.parse(line) as { ports: number[] }).ports.map((p) => `http://127.0.0.1:${p}`)
  const counts = async () => Promise.all(urls.map(async (u) => Number(await (await fetch(`${u}/__count`)).text())))
  return { urls, counts, stop: () => child.kill() }
}

/** (a): one call at a time for EVEN_MS; calls per replica in each 2 s window. */
async function even(picker: PickerName, urls: string[]): Promise<number[][]> {
  const balancer = new Balancer({ endpoints: urls, picker })
  // The attempt event names the endpoint each call went to (one call at a time: the last one).
  let last = ''
  balancer.on('attempt', (event) => {
    last = event.endpoint.id
  })
  const balancedFetch = createFetch(balancer)
  const windows: number[][] = []
  const start = performance.now()
  for (let elapsed = 0; elapsed < EVEN_MS; elapsed = performance.now() - start) {
    const w = Math.floor(elapsed / WINDOW_MS)
    windows[w] ??= urls.map(() => 0)
    await (await balancedFetch('/')).text()
    windows[w]![urls.indexOf(last)]!++
  }
  await balancer.close()
  return windows
}

/** (b): a closed loop of 8; latencies after a warm-up, and the share the slow replica served. */
async function slow(picker: PickerName, b: Awaited<ReturnType<typeof backends>>) {
  const balancer = new Balancer({ endpoints: b.urls, picker })
  const balancedFetch = createFetch(balancer)
  const one = async () => (await balancedFetch('/')).text()
  await latencies(one, 8, 1_000)
  await b.counts()
  const samples = await latencies(one, 8, SLOW_MS)
  const served = await b.counts()
  await balancer.close()
  const total = served.reduce((x, y) => x + y, 0)
  return {
    calls: samples.length,
    share: served[0]! / total,
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    p999: quantile(samples, 0.999),
  }
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
console.log(`Node ${process.version}; load average before: ${load()}\n`)

// (a)
if (ONLY.includes('a')) {
  const equal = await backends([0, 0, 0])
  // Warm the process and the backends (JIT, sockets) with a throwaway balancer first, so that the
  // first picker measured does not pay for them; each picker then starts from a fresh balancer.
  const warm = new Balancer({ endpoints: equal.urls, picker: 'round-robin' })
  const warmFetch = createFetch(warm)
  for (const end = performance.now() + 1_000; performance.now() < end; ) await (await warmFetch('/')).text()
  await warm.close()
  const evenRows: (string | number)[][] = []
  try {
    for (const picker of PICKERS) {
      const windows = await even(picker, equal.urls)
      const shares = windows.map((w) => {
        const total = w.reduce((x, y) => x + y, 0)
        return w.map((c) => (100 * c) / total)
      })
      const calls = windows.reduce((sum, w) => sum + w.reduce((x, y) => x + y, 0), 0)
      evenRows.push([
        picker,
        fmt(calls),
        shares.map((s) => s.map((x) => fmt(x)).join('/')).join(', '),
        `${fmt(Math.min(...shares.map((s) => Math.min(...s))), 1)}%`,
      ])
    }
  } finally {
    equal.stop()
  }
  console.log(
    `(a) three equal replicas (node:http, answering at once), one call at a time through createFetch, ${EVEN_MS / 1000} s per picker\n`,
  )
  console.log(table(['picker', 'calls', 'shares per 2 s window, %', 'worst share in a window'], evenRows))
}

// (b)
if (ONLY.includes('b')) {
  const mixed = await backends([40, 1, 1])
  const slowRows: (string | number)[][] = []
  try {
    for (const picker of PICKERS) {
      const r = await slow(picker, mixed)
      slowRows.push([
        picker,
        fmt(r.calls / (SLOW_MS / 1000)),
        `${fmt(r.share * 100, 2)}%`,
        fmt(r.p50, 1),
        fmt(r.p99, 1),
        fmt(r.p999, 1),
      ])
    }
  } finally {
    mixed.stop()
  }
  console.log(
    `\n(b) replicas answering after 40 / 1 / 1 ms, 8 concurrent calls through createFetch, ${SLOW_MS / 1000} s per picker after a 1 s warm-up\n`,
  )
  console.log(table(['picker', 'req/s', 'share to the 40 ms one', 'p50 ms', 'p99 ms', 'p99.9 ms'], slowRows))
}
console.log(`\nload average after: ${load()}`)
