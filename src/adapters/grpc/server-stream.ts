import { Readable } from 'node:stream'
import {
  type ClientReadableStream,
  type ClientUnaryCall,
  type Metadata,
  type ServiceError,
  type StatusObject,
  status,
} from '@grpc/grpc-js'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions as KeelCallOptions } from '../../options/options.ts'
import {
  attemptMetadata,
  cancelOnAbort,
  type GrpcContext,
  type GrpcMethod,
  probeChannel,
  stopCancel,
} from './attempt.ts'
import { attemptOptions, callPreparer, deadlinePassed, type PreparedCall, streamArguments } from './call-options.ts'
import {
  cancelledAttempt,
  cancelledOnClient,
  classifyAttemptError,
  deliver,
  errorFromStatus,
  headersOf,
  serviceError,
  setHeaders,
  statusOf,
  surfaceError,
} from './errors.ts'

/**
 * The `ClientReadableStream` a balanced server-streaming method returns. It is handed to the
 * caller at once; behind it, attempts run until one delivers a message, after which the call is
 * committed to that endpoint (a failure after the first message is never retried: the caller has
 * seen part of an answer). Back-pressure reaches the attempt's grpc-js stream (and so HTTP/2 flow
 * control). Ends as grpc-js's does: end of data, then `error` if the status is not OK, then
 * `status`. Destroying it cancels the call.
 */
export class BalancedServerStream extends Readable {
  #current: ClientReadableStream<unknown> | undefined
  #settled = false
  cancelled = false
  /** A message reached the caller: no more retries. */
  delivered = false

  constructor() {
    super({ objectMode: true })
  }

  cancel(): void {
    if (this.#settled || this.cancelled) return
    this.cancelled = true
    this.#current?.cancel()
    const error = cancelledOnClient()
    process.nextTick(() => this.settle(error, undefined, statusOf(error)))
  }

  getPeer(): string {
    return this.#current?.getPeer() ?? 'unknown'
  }

  getAuthContext(): ReturnType<ClientUnaryCall['getAuthContext']> {
    return this.#current?.getAuthContext?.() ?? null
  }

  override _read(): void {
    this.#current?.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#settled) {
      this.cancelled = true
      this.#settled = true
      this.#current?.cancel()
    }
    callback(error)
  }

  /** @internal The attempt now in flight. */
  track(stream: ClientReadableStream<unknown>): void {
    this.#current = stream
  }

  /** @internal Passes one message on, pausing the attempt's stream while the caller is behind. */
  forward(message: unknown, headers: Metadata | undefined): void {
    if (!this.delivered) {
      this.delivered = true
      if (headers !== undefined) this.emit('metadata', headers)
    }
    if (!this.push(message)) this.#current?.pause()
  }

  /** @internal Ends the stream once, in grpc-js's order. */
  settle(error: unknown, headers: Metadata | undefined, status: StatusObject | undefined): void {
    if (this.#settled) return
    this.#settled = true
    if (!this.delivered && headers !== undefined) this.emit('metadata', headers)
    this.push(null)
    if (error != null) this.emit('error', error)
    if (status !== undefined) this.emit('status', status)
  }
}

interface StreamOutcome {
  readonly headers: Metadata | undefined
  readonly status: StatusObject
}

function serverStreamAttempt(
  context: GrpcContext,
  method: GrpcMethod,
  stream: BalancedServerStream,
  request: unknown,
  metadata: Metadata,
  prepared: PreparedCall,
  endpoint: Endpoint<unknown>,
  attempt: Attempt,
): Promise<StreamOutcome> {
  if (stream.cancelled) return Promise.reject(cancelledAttempt(context.core.control(attempt)))
  const probe = probeChannel(context, endpoint)
  return new Promise<StreamOutcome>((resolve, reject) => {
    let headers: Metadata | undefined
    let error: ServiceError | undefined
    let live = true
    const inner = probe.channel.client.makeServerStreamRequest(
      method.path,
      method.serialize,
      method.deserialize,
      request,
      attemptMetadata(metadata, attempt),
      attemptOptions(context.core, prepared),
    )
    stream.track(inner)
    const control = context.core.control(attempt)
    cancelOnAbort(control, attempt, inner, () => {
      live = false
    })
    const idleMs = prepared.streamIdle ?? context.streamIdleTimeout
    // Paused: the caller has not read what came; the server is not the one stuck.
    const idle = idleMs > 0 ? context.limits.idle(idleMs, inner, () => inner.isPaused()) : undefined
    inner.on('metadata', (received: Metadata) => {
      idle?.touch()
      headers = received
    })
    inner.on('data', (message: unknown) => {
      idle?.touch()
      if (live) stream.forward(message, headers)
    })
    inner.on('error', (received: ServiceError) => {
      error = received
    })
    inner.on('status', (received: StatusObject) => {
      // Messages the caller has not pulled yet are still in the attempt's buffer: pass them on
      // (`read()` emits each as `data`) before the stream ends.
      while (live && inner.read() !== null) {}
      live = false
      stopCancel(control)
      idle?.stop()
      if (received.code === status.OK) {
        resolve({ headers, status: received })
        return
      }
      const failed = error ?? errorFromStatus(received)
      classifyAttemptError(control, failed, {
        probe,
        peer: inner.getPeer(),
        cancelled: stream.cancelled,
        deadlinePassed: deadlinePassed(context.core, prepared),
      })
      setHeaders(failed, headers)
      // A message already reached the caller: keel must not retry this attempt.
      if (stream.delivered) control?.handOver()
      reject(failed)
    })
  })
}

/** A balanced server-streaming method: `(request, metadata?, options?)`. */
export function serverStreamMethod(context: GrpcContext, method: GrpcMethod) {
  // A hedge would interleave two answers in one stream: server-streaming calls are never hedged.
  // An attempt that failed after delivering a message is never retried: it hands over (above).
  const base: KeelCallOptions = Object.freeze({
    idempotent: method.idempotent,
    hedge: false,
  })
  const prepare = callPreparer(context.core, base)
  return function balancedServerStream(request: unknown, arg1?: unknown, arg2?: unknown): BalancedServerStream {
    const { metadata, options } = streamArguments(arg1, arg2)
    const stream = new BalancedServerStream()
    const prepared = prepare(options)
    if (prepared.expired) {
      const error = serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded')
      process.nextTick(() => stream.settle(error, undefined, statusOf(error)))
      return stream
    }
    context.balancer
      .call(
        (endpoint, attempt) =>
          serverStreamAttempt(context, method, stream, request, metadata, prepared, endpoint, attempt),
        prepared.keel,
      )
      .then(
        (outcome) => deliver(() => stream.settle(null, outcome.headers, outcome.status)),
        (reason: unknown) => {
          const error = surfaceError(reason)
          deliver(() => stream.settle(error, headersOf(error), statusOf(error)))
        },
      )
    return stream
  }
}
