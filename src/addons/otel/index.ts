// keel/otel: a balancer's metrics and traces through @opentelemetry/api (an optional peer).
import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api'
import { Balancer } from '../../balancer.ts'
import { addOnPort } from '../../core/port-access.ts'
import type { AttemptImpl, ObservedCall } from '../../core/ports.ts'
import { isPlainObject, rangeError, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { checkBuckets, DEFAULT_BUCKETS } from '../metrics/recorder.ts'
import { otelMetrics } from './metrics.ts'
import { type AttemptSpan, type CallSpan, CallTracing } from './tracing.ts'

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
  const stopTracing = traceCalls(balancer as Balancer<unknown>, new CallTracing(tracerProvider.getTracer(SCOPE), name))
  let closed = false
  return {
    close() {
      if (closed) return
      closed = true
      stopMetrics()
      stopTracing()
    },
  }
}

/** Spans for every call and attempt of `balancer`, through a call observer. Returns its remover. */
function traceCalls(balancer: Balancer<unknown>, tracing: CallTracing): () => void {
  const calls = new Map<ObservedCall, CallSpan>()
  const attempts = new Map<AttemptImpl, AttemptSpan>()
  return addOnPort(balancer).addCallObserver({
    callStarted(call) {
      const span = tracing.callStart(call.callId)
      // A call nobody records (no SDK, or sampled out) gets no attempt spans and no context of its
      // own: `fn` still runs in the caller's context, which carries the same trace decision.
      if (span === undefined) return
      calls.set(call, span)
    },
    attemptStarted(call, attempt) {
      const span = calls.get(call)
      if (span !== undefined)
        attempts.set(attempt, tracing.attemptStart(span, attempt.state.endpoint, attempt.number, attempt.hedge))
    },
    runAttempt(_call, attempt, run) {
      const span = attempts.get(attempt)
      return span === undefined ? run() : tracing.run(span, run)
    },
    attemptEnded(_call, attempt) {
      const span = attempts.get(attempt)
      if (span === undefined) return
      attempts.delete(attempt)
      tracing.attemptEnd(span, attempt.verdict, attempt.failure)
    },
    callEnded(call, outcome, error) {
      const span = calls.get(call)
      if (span === undefined) return
      calls.delete(call)
      tracing.callEnd(span, outcome, call.attempts, error)
    },
  })
}
