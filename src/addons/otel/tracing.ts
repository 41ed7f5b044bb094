import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { CallOutcome } from '../../model/call-outcome.ts'
import { describeError } from '../../model/describe-error.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { Verdict } from '../../model/verdict.ts'
import { serverAttributes } from './metrics.ts'

/** Verdicts that mark an attempt span as failed. */
const FAILED: ReadonlySet<Verdict> = new Set(['endpoint-failure', 'not-sent', 'overloaded', 'caller-error'])

/** A call's span and the context its attempts' spans are children of. */
export interface CallSpan {
  readonly span: Span
  readonly context: Context
}

/** An attempt's span and the context `fn` runs in. */
export interface AttemptSpan {
  readonly span: Span
  readonly context: Context
}

/** `error.type`: the error's `code` when it has one, else its class name (the conventions' advice). */
function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code !== '') return code
    const name = (error as { name?: unknown }).name
    if (typeof name === 'string' && name !== '') return name
  }
  return '_OTHER'
}

/**
 * keel's spans: one per call (`keel <name>`), one child per attempt (`keel <name> attempt`), with
 * `fn` run in the attempt's context so a client's own span nests under it. Both `INTERNAL`: the
 * `CLIENT` span of the request is the HTTP or gRPC client instrumentation's (docs/observability.md).
 */
export class CallTracing {
  readonly #tracer: Tracer
  readonly #callName: string
  readonly #attemptName: string
  readonly #base: Attributes

  constructor(tracer: Tracer, name: string) {
    this.#tracer = tracer
    this.#callName = `keel ${name}`
    this.#attemptName = `keel ${name} attempt`
    this.#base = { 'keel.balancer': name }
  }

  /** The call's span, or undefined when it is not recorded (no SDK, or sampled out). */
  callStart(callId: number): CallSpan | undefined {
    const parent = context.active()
    const span = this.#tracer.startSpan(this.#callName, { kind: SpanKind.INTERNAL }, parent)
    if (!span.isRecording()) return undefined
    span.setAttributes(this.#base)
    span.setAttribute('keel.call.id', callId)
    return { span, context: trace.setSpan(parent, span) }
  }

  callEnd(call: CallSpan, outcome: CallOutcome, attempts: number, error: unknown): void {
    const span = call.span
    span.setAttribute('keel.call.outcome', outcome)
    span.setAttribute('keel.call.attempts', attempts)
    if (outcome !== 'success') {
      span.setAttribute('error.type', errorType(error))
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) })
    }
    span.end()
  }

  attemptStart(call: CallSpan, endpoint: Endpoint<unknown>, number: number, hedge: boolean): AttemptSpan {
    const attributes: Attributes = {
      ...this.#base,
      ...serverAttributes(endpoint),
      'keel.endpoint': endpoint.id,
      'keel.attempt.number': number,
      'keel.attempt.hedge': hedge,
    }
    if (number > 1 && (endpoint.protocol === 'http:' || endpoint.protocol === 'https:'))
      attributes['http.request.resend_count'] = number - 1
    const span = this.#tracer.startSpan(this.#attemptName, { kind: SpanKind.INTERNAL, attributes }, call.context)
    return { span, context: trace.setSpan(call.context, span) }
  }

  /** Runs `fn` with the attempt's span active. */
  run<A extends unknown[], R>(attempt: AttemptSpan, fn: (...args: A) => R, ...args: A): R {
    return context.with(attempt.context, fn, undefined, ...args)
  }

  attemptEnd(attempt: AttemptSpan, verdict: Verdict, error: unknown): void {
    const span = attempt.span
    span.setAttribute('keel.attempt.verdict', verdict)
    if (FAILED.has(verdict)) {
      span.setAttribute('error.type', errorType(error))
      if (error !== undefined) span.recordException(error instanceof Error ? error : { message: describeError(error) })
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) })
    }
    span.end()
  }
}
