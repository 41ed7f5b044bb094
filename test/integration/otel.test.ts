import { context, propagation, SpanKind, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFetch } from '../../src/adapters/fetch/index.ts'
import { instrument } from '../../src/addons/otel/index.ts'
import { Balancer } from '../../src/index.ts'
import { otelSdk } from '../helpers/otel.ts'
import { closedPort, startServers, type TestServer } from '../helpers/servers.ts'

describe('keel/otel spans over real HTTP backends', () => {
  const sdk = otelSdk()
  let backends: TestServer[] = []
  let dead = ''

  beforeAll(async () => {
    backends = await startServers(2)
    dead = `http://127.0.0.1:${await closedPort()}`
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  })

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()))
    propagation.disable()
    await sdk.shutdown()
  })

  it('one span per call, one child per attempt with the endpoint it reached; retries are siblings; the client span nests', async () => {
    const tracer = sdk.tracerProvider.getTracer('test')
    // An instrumented HTTP client, as undici's instrumentation is: its CLIENT span is a child of
    // the context active when the request starts, and it injects that span into the headers.
    const clientFetch: typeof fetch = async (input, init) => {
      const span = tracer.startSpan('GET', { kind: SpanKind.CLIENT }, context.active())
      const headers = new Headers(init?.headers)
      propagation.inject(trace.setSpan(context.active(), span), headers, {
        set: (carrier, key, value) => carrier.set(key, value),
      })
      try {
        return await fetch(input, { ...init, headers })
      } finally {
        span.end()
      }
    }
    // Round-robin over a dead endpoint and two live ones: the call that meets the dead one fails
    // there (not-sent) and is retried on a live one; outlier detection ejects the dead one at once
    // (`consecutiveNotSent: 1`), so exactly one of the three calls retries.
    const balancer = new Balancer({
      endpoints: [dead, ...backends.map((b) => b.url)],
      picker: 'round-robin',
      breaker: false,
    })
    const otel = instrument(balancer, {
      name: 'users',
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
    })
    const balancedFetch = createFetch(balancer, { fetch: clientFetch })
    const parent = tracer.startSpan('request')
    for (let i = 0; i < 3; i++) {
      const res = await context.with(trace.setSpan(context.active(), parent), () => balancedFetch('/users/42'))
      await res.text()
    }
    parent.end()
    otel.close()
    await balancer.close()

    const spans = sdk.exporter.getFinishedSpans()
    const calls = spans.filter((s) => s.name === 'keel users')
    const attempts = spans.filter((s) => s.name === 'keel users attempt')
    const clients = spans.filter((s) => s.name === 'GET')
    expect(calls).toHaveLength(3)
    // Each call span is a child of the caller's span.
    for (const call of calls) expect(call.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
    // One of the three calls met the dead endpoint and retried: 4 attempts, all children of their call.
    expect(attempts).toHaveLength(4)
    const byCall = (call: ReadableSpan) =>
      attempts.filter((a) => a.parentSpanContext?.spanId === call.spanContext().spanId)
    expect(calls.map((c) => byCall(c).length).sort()).toEqual([1, 1, 2])
    const retried = calls.find((c) => byCall(c).length === 2)!
    const [first, second] = byCall(retried).sort(
      (a, b) => Number(a.attributes['keel.attempt.number']) - Number(b.attributes['keel.attempt.number']),
    )
    const deadPort = Number(new URL(dead).port)
    expect(first!.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': deadPort,
      'keel.attempt.number': 1,
      'keel.attempt.verdict': 'not-sent',
    })
    expect(first!.status.code).toBe(2) // ERROR
    expect(second!.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'keel.attempt.number': 2,
      'keel.attempt.verdict': 'success',
      'http.request.resend_count': 1,
    })
    expect(backends.map((b) => b.port)).toContain(second!.attributes['server.port'])
    expect(retried.attributes).toMatchObject({ 'keel.call.outcome': 'success', 'keel.call.attempts': 2 })
    // The HTTP client's span nests under the attempt it belongs to, and the backend received it.
    expect(clients).toHaveLength(4)
    for (const client of clients) {
      const attempt = attempts.find((a) => a.spanContext().spanId === client.parentSpanContext?.spanId)
      expect(attempt).toBeDefined()
    }
    const received = backends.flatMap((b) => b.requests.map((r) => r.headers.traceparent))
    expect(received).toHaveLength(3)
    const clientIds = new Set(clients.map((c) => c.spanContext().spanId))
    for (const header of received) expect(clientIds.has(String(header).split('-')[2]!)).toBe(true)
  })
})
