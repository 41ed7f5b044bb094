// What observability costs on the call path: ns and heap bytes per `call(fn)` (defaults, 10
// endpoints) with nothing observing, with a diagnostics-channel subscriber, with keel/prometheus,
// and with keel/otel (metrics only, then metrics and spans with the SDK's tracer).
// Run: node bench/observability.ts
import diagnostics_channel from 'node:diagnostics_channel'
import { PerformanceObserver } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { Registry } from 'prom-client'
import { instrument } from '../src/addons/otel/index.ts'
import { prometheusMetrics } from '../src/addons/prometheus/index.ts'
import { Balancer } from '../src/index.ts'
import { fmt, median, table } from './lib.ts'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const ITERATIONS = 100_000

/**
 * Median CPU ns (user + system, this process) per iteration over 9 runs after a warm-up: on a
 * machine shared with other work, CPU time moves far less than wall time.
 */
async function cpuNsPerOp(body: (n: number) => Promise<void>, n: number): Promise<number> {
  await body(n)
  const samples: number[] = []
  for (let r = 0; r < 9; r++) {
    const start = process.cpuUsage()
    await body(n)
    const used = process.cpuUsage(start)
    samples.push(((used.user + used.system) * 1000) / n)
  }
  return median(samples)
}
const endpoints = Array.from({ length: 10 }, (_, i) => `http://10.0.0.${i + 1}:8080`)
const fn = async () => 1

/**
 * Heap bytes allocated per call: the growth of the used heap over `n` calls that ran without a
 * garbage collection; the median of three such runs (up to 10 tries).
 */
async function bytesPerCall(balancer: Balancer<unknown>, n = 20_000): Promise<number | undefined> {
  const samples: number[] = []
  for (let tries = 0; tries < 10 && samples.length < 3; tries++) {
    gc()
    let collections = 0
    const observer = new PerformanceObserver((list) => {
      collections += list.getEntries().length
    })
    observer.observe({ entryTypes: ['gc'] })
    const before = v8.getHeapStatistics().used_heap_size
    for (let i = 0; i < n; i++) await balancer.call(fn)
    const after = v8.getHeapStatistics().used_heap_size
    await new Promise((resolve) => setImmediate(resolve))
    observer.disconnect()
    if (collections === 0) samples.push((after - before) / n)
  }
  return samples.length === 3 ? median(samples) : undefined
}

async function measure(setup: (balancer: Balancer<never>) => () => void | Promise<void>) {
  const balancer = new Balancer({ endpoints })
  const teardown = setup(balancer)
  const ns = await cpuNsPerOp(async (n) => {
    for (let i = 0; i < n; i++) await balancer.call(fn)
  }, ITERATIONS)
  const bytes = await bytesPerCall(balancer as Balancer<unknown>)
  await teardown()
  await balancer.close()
  return { ns, bytes }
}

const bare = await cpuNsPerOp(async (n) => {
  for (let i = 0; i < n; i++) await fn()
}, ITERATIONS)
const off = await measure(() => () => {})
const subscribed = await measure(() => {
  const listener = () => {}
  diagnostics_channel.subscribe('keel:attempt:end', listener)
  return () => {
    diagnostics_channel.unsubscribe('keel:attempt:end', listener)
  }
})
const prometheus = await measure((balancer) => {
  const metrics = prometheusMetrics(balancer, { name: 'bench', registry: new Registry() })
  return () => metrics.close()
})
const otelMetrics = await measure((balancer) => {
  const meterProvider = new MeterProvider()
  const otel = instrument(balancer, { name: 'bench', meterProvider })
  return async () => {
    otel.close()
    await meterProvider.shutdown()
  }
})
const otelTraces = await measure((balancer) => {
  const meterProvider = new MeterProvider()
  // Spans are recorded (the SDK's sampler says yes) and dropped: no processor exports them.
  const tracerProvider = new BasicTracerProvider()
  const otel = instrument(balancer, { name: 'bench', meterProvider, tracerProvider })
  return async () => {
    otel.close()
    await meterProvider.shutdown()
    await tracerProvider.shutdown()
  }
})

const row = (name: string, m: { ns: number; bytes: number | undefined }) => [
  name,
  fmt(m.ns),
  fmt(m.ns - off.ns),
  m.bytes === undefined ? 'n/a' : fmt(m.bytes),
]
console.log(
  `Node ${process.version}, ${ITERATIONS.toLocaleString('en-US')} sequential calls × 9 runs, median CPU ns per call; bytes: heap growth per call over 20,000 calls without a GC; bare \`await fn()\` ${fmt(bare)} ns\n`,
)
console.log(
  table(
    ['`call(fn)`, defaults, 10 endpoints', 'CPU ns / call', 'added ns', 'bytes / call'],
    [
      row('nothing observing', off),
      row('a subscriber on `keel:attempt:end`', subscribed),
      row('`prometheusMetrics` on', prometheus),
      row('`instrument` (OTel SDK meter, no-op tracer)', otelMetrics),
      row('`instrument` (OTel SDK meter and tracer)', otelTraces),
    ],
  ),
)
