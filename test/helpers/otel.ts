import { type Attributes, context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'

/** A reader that collects only when the test asks (no timer). */
class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The OpenTelemetry SDK with in-memory exporters: spans as they end, metrics when collected. */
export function otelSdk() {
  const reader = new ManualReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  // Context propagation across awaits, as a service's SDK setup would install it.
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  return {
    meterProvider,
    tracerProvider,
    exporter,
    /** Every data point of every metric now: `name` → points with their attributes. */
    async collect(): Promise<Map<string, { attributes: Attributes; value: DataPoint<unknown>['value'] }[]>> {
      const { resourceMetrics } = await reader.collect()
      const out = new Map<string, { attributes: Attributes; value: DataPoint<unknown>['value'] }[]>()
      for (const scope of resourceMetrics.scopeMetrics)
        for (const metric of scope.metrics)
          out.set(
            metric.descriptor.name,
            (metric.dataPoints as DataPoint<unknown>[]).map((p) => ({ attributes: p.attributes, value: p.value })),
          )
      return out
    },
    async shutdown(): Promise<void> {
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
      context.disable()
    },
  }
}

/** The value of the point of `points` whose attributes include `match`. */
export function pointValue(
  points: { attributes: Attributes; value: unknown }[] | undefined,
  match: Attributes,
): unknown {
  const point = points?.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
  return point?.value
}
