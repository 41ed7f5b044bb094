import { EventEmitter } from 'node:events'
import {
  type ClientUnaryCall,
  type Metadata,
  type requestCallback,
  type ServiceError,
  type StatusObject,
  status,
} from '@grpc/grpc-js'
import type { AdapterCall, AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import type { TimerEntry } from '../../internal/timer-queue.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions as KeelCallOptions } from '../../options/options.ts'
import {
  attemptMetadata,
  cancelCall,
  type GrpcContext,
  type GrpcMethod,
  probeChannel,
  type SurfaceCall,
  stopCancel,
} from './attempt.ts'
import { attemptOptions, callbackArguments, callPreparer, deadlinePassed, type PreparedCall } from './call-options.ts'
import {
  type ChannelProbe,
  cancelledAttempt,
  cancelledOnClient,
  classifyAttemptError,
  headersOf,
  rethrow,
  serviceError,
  setHeaders,
  statusOf,
  surfaceError,
} from './errors.ts'
import { endCall } from './time-limits.ts'

/** The call options of a call that adds none to the balancer's. */
const NO_KEEL_OPTIONS: KeelCallOptions = Object.freeze({})

/** What a successful unary attempt returns to keel (a plain object: keel classifies it `success`). */
interface UnaryOutcome {
  readonly value: unknown
  readonly headers: Metadata | undefined
  readonly status: StatusObject
}

/**
 * The `ClientUnaryCall` a balanced unary method returns: an EventEmitter with `cancel()` and
 * `getPeer()`. Its events are those of the attempt that produced the result, emitted in grpc-js's
 * order when the call settles: `metadata` (response headers, if any), then the callback, then
 * `status`. Attempts that were retried stay invisible.
 */
export class BalancedUnaryCall extends EventEmitter {
  #callback: requestCallback<unknown>
  #current: SurfaceCall | undefined
  #settled = false
  /** The caller cancelled: later attempts end at once, as `cancelled`. */
  cancelled = false

  constructor(callback: requestCallback<unknown>) {
    super()
    this.#callback = callback
  }

  /** Cancels the call (CANCELLED, "Cancelled on client", as grpc-js) and its attempt in flight. */
  cancel(): void {
    if (this.#settled || this.cancelled) return
    this.cancelled = true
    this.#current?.cancel()
    const error = cancelledOnClient()
    process.nextTick(() => this.settle(error, undefined, undefined, statusOf(error)!))
  }

  /** The peer of the current (or last) attempt; `'unknown'` before the first. */
  getPeer(): string {
    return this.#current?.getPeer() ?? 'unknown'
  }

  getAuthContext(): ReturnType<ClientUnaryCall['getAuthContext']> {
    return (this.#current as ClientUnaryCall | undefined)?.getAuthContext?.() ?? null
  }

  /** @internal The attempt now in flight. */
  track(call: SurfaceCall): void {
    this.#current = call
  }

  /**
   * @internal Delivers the result once. A callback or listener that throws is an uncaught
   * exception, as with grpc-js, not a rejection of keel's promise chain.
   */
  settle(error: unknown, value: unknown, headers: Metadata | undefined, status: StatusObject | undefined): void {
    if (this.#settled) return
    this.#settled = true
    try {
      if (headers !== undefined) this.emit('metadata', headers)
      if (error == null) this.#callback(null, value)
      else this.#callback(error as ServiceError)
      if (status !== undefined) this.emit('status', status)
    } catch (thrown) {
      rethrow(thrown)
    }
  }
}

/**
 * Ends `inner` with DEADLINE_EXCEEDED in `ms`, as a grpc-js deadline would. A function of its own,
 * so the timer queue holds the call only, not the attempt's closure context.
 */
function limitCall(context: GrpcContext, ms: number, inner: SurfaceCall): TimerEntry {
  return context.limits.after(ms, () => endCall(inner, status.DEADLINE_EXCEEDED, 'Deadline exceeded'))
}

/**
 * One balanced unary call, driven by keel (`AdapterCall`, docs/architecture.md): each attempt
 * reports to its `AttemptControl`, and the call's end reaches the caller's `BalancedUnaryCall`
 * directly, with no promise per call or attempt.
 */
class UnaryRun implements AdapterCall {
  readonly context: GrpcContext
  readonly method: GrpcMethod
  readonly call: BalancedUnaryCall
  readonly request: unknown
  readonly metadata: Metadata
  readonly prepared: PreparedCall

  constructor(
    context: GrpcContext,
    method: GrpcMethod,
    call: BalancedUnaryCall,
    request: unknown,
    metadata: Metadata,
    prepared: PreparedCall,
  ) {
    this.context = context
    this.method = method
    this.call = call
    this.request = request
    this.metadata = metadata
    this.prepared = prepared
  }

  attempt(endpoint: Endpoint<unknown>, attempt: Attempt): void {
    unaryAttempt(this, endpoint, attempt)
  }

  resolved(value: unknown): void {
    const outcome = value as UnaryOutcome
    this.call.settle(null, outcome.value, outcome.headers, outcome.status)
  }

  rejected(reason: unknown): void {
    const error = surfaceError(reason)
    this.call.settle(error, undefined, headersOf(error), statusOf(error))
  }
}

/**
 * One unary attempt on the picked endpoint; its outcome goes to the attempt's control. grpc-js
 * keeps the callback and listeners it is given as long as its call object lives: they reach this
 * object only, which forgets the run, the control and the reply once the status arrived
 * (docs/architecture.md, "… an adapter let go of a finished request?"). It is also the attempt's
 * `canceller`: keel's cancellation needs no object of its own.
 */
class UnaryAttempt implements AttemptCanceller {
  run: UnaryRun | undefined
  control: AttemptControl | undefined
  probe: ChannelProbe | undefined
  inner: SurfaceCall | undefined = undefined
  limit: TimerEntry | undefined = undefined
  value: unknown = undefined
  error: ServiceError | null = null
  headers: Metadata | undefined = undefined

  constructor(run: UnaryRun, control: AttemptControl, probe: ChannelProbe) {
    this.run = run
    this.control = control
    this.probe = probe
  }

  start(attempt: Attempt): void {
    const run = this.run!
    const { context, prepared } = run
    const inner = this.probe!.channel.client.makeUnaryRequest(
      run.method.path,
      run.method.serialize,
      run.method.deserialize,
      run.request,
      attemptMetadata(run.metadata, attempt),
      attemptOptions(context.core, prepared),
      (error: ServiceError | null, response?: unknown) => {
        this.error = error
        this.value = response
      },
    )
    this.inner = inner
    run.call.track(inner)
    this.control!.canceller = this
    // The adapter's default limit (`unaryTimeout`), on its own timer rather than a grpc-js deadline.
    if (prepared.limit > 0) this.limit = limitCall(context, prepared.limit, inner)
    inner.on('metadata', (received: Metadata) => {
      this.headers = received
    })
    // grpc-js emits `status` right after the callback, on success and failure alike.
    inner.on('status', (received: StatusObject) => this.ended(received))
  }

  /** keel gave up on the attempt: end the call as grpc-js would (`cancelCall`). */
  attemptCancelled(reason: unknown): void {
    if (this.inner !== undefined) cancelCall(this.inner, reason)
  }

  ended(received: StatusObject): void {
    const { run, control, probe, inner, limit, value, error, headers } = this
    if (run === undefined) return
    this.run = this.control = this.probe = this.inner = this.limit = this.value = this.headers = undefined
    this.error = null
    stopCancel(control)
    const { context, prepared } = run
    if (limit !== undefined) context.limits.cancel(limit)
    if (error === null) {
      control!.succeed({ value, headers, status: received } satisfies UnaryOutcome)
      return
    }
    classifyAttemptError(control, error, {
      probe: probe!,
      peer: inner!.getPeer(),
      cancelled: run.call.cancelled,
      deadlinePassed: deadlinePassed(context.core, prepared),
    })
    setHeaders(error, headers)
    control!.fail(error)
  }
}

/** One unary attempt on the picked endpoint, unless the caller already cancelled the call. */
function unaryAttempt(run: UnaryRun, endpoint: Endpoint<unknown>, attempt: Attempt): void {
  const { context, call } = run
  const control = context.core.control(attempt)!
  if (call.cancelled) {
    control.fail(cancelledAttempt(control))
    return
  }
  new UnaryAttempt(run, control, probeChannel(context, endpoint)).start(attempt)
}

/**
 * A balanced unary method with grpc-js's call shapes: `(request, metadata?, options?, callback)`.
 * keel runs every call as `balancer.call` runs one (a driven call): each attempt picks an endpoint
 * and runs the call on that endpoint's client; failed attempts are retried by keel's rules
 * (docs/retries.md).
 */
export function unaryMethod(context: GrpcContext, method: GrpcMethod) {
  // A non-idempotent method needs nothing beyond the balancer's defaults: no options to validate.
  const base: KeelCallOptions | undefined = method.idempotent ? Object.freeze({ idempotent: true }) : undefined
  const prepare = callPreparer(context.core, base, context.unaryTimeout)
  // Resolved once for every call that adds no keel options of its own (no deadline, no `keel`).
  const baseResolved = context.core.resolveCall(base ?? NO_KEEL_OPTIONS)
  return function balancedUnary(request: unknown, arg1?: unknown, arg2?: unknown, arg3?: unknown): BalancedUnaryCall {
    const { metadata, options, callback } = callbackArguments(arg1, arg2, arg3)
    const call = new BalancedUnaryCall(callback)
    const prepared = prepare(options)
    if (prepared.expired) {
      const error = serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded')
      process.nextTick(() => call.settle(error, undefined, undefined, statusOf(error)))
      return call
    }
    const resolved = prepared.keel === base ? baseResolved : context.core.resolveCall(prepared.keel ?? NO_KEEL_OPTIONS)
    // A driven call: keel adds no promise or closure per call around the attempts.
    context.core.drive(new UnaryRun(context, method, call, request, metadata, prepared), resolved)
    return call
  }
}
