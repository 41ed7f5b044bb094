// Circuit breakers at scale: heap per endpoint and idle CPU with 1,000 and 10,000 endpoints,
// breakers (and outlier detection) on vs off, measured in one run.
// Run: node --expose-gc bench/breakers.ts
import { Balancer, type BalancerOptions } from '../src/index.ts'
import { fmt, table } from './lib.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

const IDLE_MS = 5_000

function endpoints(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`)
}

function heap(): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

async function measure(n: number, options: BalancerOptions) {
  const list = endpoints(n)
  const before = heap()
  const started = performance.now()
  const balancer = new Balancer({ endpoints: list, ...options })
  const buildMs = performance.now() - started
  // Touch every endpoint once so per-endpoint state is fully built.
  for (let i = 0; i < n; i++) await balancer.call(async () => i)
  const bytesPerEndpoint = (heap() - before) / n
  const cpu = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
  const used = process.cpuUsage(cpu)
  const idleCpuPercent = ((used.user + used.system) / 1000 / IDLE_MS) * 100
  const closeStarted = performance.now()
  await balancer.close()
  return { buildMs, bytesPerEndpoint, idleCpuPercent, closeMs: performance.now() - closeStarted }
}

const rows: (string | number)[][] = []
for (const n of [1_000, 10_000]) {
  for (const [label, options] of [
    ['breakers + outlier detection (defaults)', {}],
    ['breakers only', { outlierDetection: false }],
    ['neither', { breaker: false, outlierDetection: false }],
  ] as const) {
    const r = await measure(n, options)
    rows.push([fmt(n), label, fmt(r.bytesPerEndpoint), fmt(r.idleCpuPercent, 3), fmt(r.buildMs), fmt(r.closeMs)])
  }
}
console.log(`Node ${process.version}; idle CPU over ${IDLE_MS / 1000} s with the balancer built and untouched\n`)
console.log(table(['endpoints', 'detectors', 'heap bytes / endpoint', 'idle CPU %', 'build ms', 'close ms'], rows))
