// `call()` success-path overhead over a bare `await fn()` (docs/benchmarks.md#call-overhead: ≤ 1 µs
// with breakers, outlier detection and retries on, no signal, no timeout; reported beside it with
// both). The path measured: docs/calls.md#the-simple-path-and-calls-that-can-end-early.
// Run: node bench/call-overhead.ts   (Node 22: npx -y -p node@22 node --experimental-strip-types bench/call-overhead.ts)
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { Registry } from 'prom-client'
import { instrument } from '../src/addons/otel/index.ts'
import { prometheusMetrics } from '../src/addons/prometheus/index.ts'
import { Balancer } from '../src/index.ts'
import { fmt, nsPerOp, table } from './lib.ts'

const ITERATIONS = 200_000
const endpoints = Array.from({ length: 10 }, (_, i) => `http://10.0.0.${i + 1}:8080`)
const fn = async () => 1

const bare = await nsPerOp(async (n) => {
  for (let i = 0; i < n; i++) await fn()
}, ITERATIONS)

async function through(balancer: Balancer<unknown>, options?: () => object): Promise<number> {
  const ns = await nsPerOp(async (n) => {
    if (options === undefined) for (let i = 0; i < n; i++) await balancer.call(fn)
    else for (let i = 0; i < n; i++) await balancer.call(fn, options())
  }, ITERATIONS)
  await balancer.close()
  return ns
}

const defaults = await through(new Balancer({ endpoints }))
const roundRobin = await through(new Balancer({ endpoints, picker: 'round-robin' }))
const nothing = await through(
  new Balancer({ endpoints, picker: 'round-robin', breaker: false, outlierDetection: false, retry: false }),
)
const controller = new AbortController()
const withSignalAndTimeout = await through(new Balancer({ endpoints }), () => ({
  signal: controller.signal,
  timeout: 2_000,
}))
const readsSignal = await nsPerOp(async (n) => {
  const b = new Balancer({ endpoints })
  for (let i = 0; i < n; i++) await b.call(async (_e, attempt) => attempt.signal.aborted)
  await b.close()
}, ITERATIONS)

// Metrics on: what a service exporting keel's metrics pays per call, next to `defaults` (metrics off).
const promBalancer = new Balancer({ endpoints })
const promMetrics = prometheusMetrics(promBalancer, { name: 'bench', registry: new Registry() })
const withPrometheus = await through(promBalancer)
promMetrics.close()
// The OpenTelemetry SDK's meter (no reader collects during the run: only the recording cost); no
// tracer provider is registered, so spans are the API's no-op ones.
const otelBalancer = new Balancer({ endpoints })
const meterProvider = new MeterProvider()
const otel = instrument(otelBalancer, { name: 'bench', meterProvider })
const withOtel = await through(otelBalancer)
otel.close()
await meterProvider.shutdown()

const rows = [
  ['bare `await fn()`', fmt(bare), '—'],
  [
    '`call(fn)`, defaults (p2c-ewma, breakers, outlier detection, retries + budget)',
    fmt(defaults),
    fmt(defaults - bare),
  ],
  ['`call(fn)`, round-robin, defaults otherwise', fmt(roundRobin), fmt(roundRobin - bare)],
  ['`call(fn)`, round-robin, no breakers / outlier / retries', fmt(nothing), fmt(nothing - bare)],
  ['`call(fn, { signal, timeout })`, defaults', fmt(withSignalAndTimeout), fmt(withSignalAndTimeout - bare)],
  ['`call(fn)` where fn reads `attempt.signal`, defaults', fmt(readsSignal), fmt(readsSignal - bare)],
  ['`call(fn)`, defaults, `prometheusMetrics` on', fmt(withPrometheus), fmt(withPrometheus - bare)],
  [
    '`call(fn)`, defaults, OpenTelemetry `instrument` on (SDK meter, no-op tracer)',
    fmt(withOtel),
    fmt(withOtel - bare),
  ],
]
console.log(
  `Node ${process.version}, ${ITERATIONS.toLocaleString('en-US')} sequential calls × 7 runs, median ns per call, 10 endpoints\n`,
)
console.log(table(['path', 'ns / call', 'overhead ns'], rows))
