// keel/otel: a balancer's metrics and traces through @opentelemetry/api (an optional peer).
import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api'
import { Balancer } from '../balancer.ts'
import { isPlainObject, rangeError, rejectUnknownKeys, typeError } from '../internal/validate.ts'
import { checkBuckets, DEFAULT_BUCKETS } from './metrics-recorder.ts'
import { otelMetrics } from './otel-metrics.ts'

export interface InstrumentOptions {
  /** The `keel.balancer` attribute on every metric and span: tells this balancer from the process's others. */
  readonly name: string
  /**
   * Where the metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`)
   */
  readonly meterProvider?: MeterProvider
  /**
   * Where the spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  readonly tracerProvider?: TracerProvider
  /**
   * Attributes per endpoint (`server.address`, `server.port`) on attempt and ejection counts, and
   * the per-endpoint in-flight and latency instruments. Turn off for large fleets.
   * @default true
   */
  readonly perEndpoint?: boolean
  /**
   * Bucket boundaries, in seconds, advised for `keel.attempt.duration`.
   * @default [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
   */
  readonly buckets?: readonly number[]
}

/** Stops the instrumentation: no more spans, and the balancer's instruments stop reporting. */
export interface Instrumentation {
  close(): void
}

const OPTIONS = ['name', 'meterProvider', 'tracerProvider', 'perEndpoint', 'buckets']
/** The instrumentation scope keel's meter and tracer report under. */
export const SCOPE = 'keel'

/**
 * Instruments `balancer` with OpenTelemetry: keel's metrics under OpenTelemetry names, and a span
 * per call with a child span per attempt.
 */
export function instrument(balancer: Balancer<never>, options: InstrumentOptions): Instrumentation {
  if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, OPTIONS)
  const { name, perEndpoint = true, buckets = DEFAULT_BUCKETS } = options
  if (typeof name !== 'string' || name === '') throw typeError('name', 'a non-empty string', name)
  if (typeof perEndpoint !== 'boolean') throw typeError('perEndpoint', 'a boolean', perEndpoint)
  if (!checkBuckets(buckets)) throw rangeError('buckets', 'increasing positive numbers of seconds', buckets)
  const meterProvider = options.meterProvider ?? metrics.getMeterProvider()
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider()
  if (typeof meterProvider?.getMeter !== 'function')
    throw typeError('meterProvider', 'an OpenTelemetry MeterProvider', meterProvider)
  if (typeof tracerProvider?.getTracer !== 'function')
    throw typeError('tracerProvider', 'an OpenTelemetry TracerProvider', tracerProvider)
  const stopMetrics = otelMetrics(
    balancer as Balancer<unknown>,
    meterProvider.getMeter(SCOPE),
    name,
    perEndpoint,
    buckets,
  )
  let closed = false
  return {
    close() {
      if (closed) return
      closed = true
      stopMetrics()
    },
  }
}
