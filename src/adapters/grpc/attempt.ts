import { type ClientUnaryCall, connectivityState } from '@grpc/grpc-js'
import type { Balancer } from '../../balancer.ts'
import type { AdapterPort, AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import type { EndpointChannel } from './channel.ts'
import { abortStatus, type ChannelProbe } from './errors.ts'
import type { GrpcMethod } from './methods.ts'
import type { TimeLimits } from './time-limits.ts'

/** What every method of one `createGrpcClient` shares. */
export interface GrpcContext {
  readonly balancer: Balancer<unknown>
  readonly core: AdapterPort
  readonly channels: ResourceHandle<EndpointChannel>
  /** Each unary attempt's limit when nothing else bounds the call (`unaryTimeout`; 0: none). */
  readonly unaryTimeout: number
  /** ms a streaming call may go without a message either way (`streamIdleTimeout`; 0: none). */
  readonly streamIdleTimeout: number
  readonly limits: TimeLimits
}

/** Any grpc-js call object (unary or stream): an EventEmitter with `cancel()`, `getPeer()` and the interceptor chain under `call`. */
export type SurfaceCall = ClientUnaryCall

/** The endpoint's channel and what the attempt needs to prove later that nothing was sent. */
export function probeChannel(context: GrpcContext, endpoint: Endpoint<unknown>): ChannelProbe {
  const channel = context.channels.get(endpoint)
  return { channel, wasReady: channel.state === connectivityState.READY, epoch: channel.readyEpoch }
}

/** Ends a grpc-js call with the status keel's cancellation `reason` maps to. */
export function cancelCall(call: SurfaceCall, reason: unknown): void {
  const { code, details } = abortStatus(reason)
  if (call.call !== undefined) call.call.cancelWithStatus(code, details)
  else call.cancel()
}

/** Ends a grpc-js call when keel cancels its attempt: one small object, no closure. */
class CallCanceller implements AttemptCanceller {
  readonly call: SurfaceCall
  readonly before: (() => void) | undefined

  constructor(call: SurfaceCall, before: (() => void) | undefined) {
    this.call = call
    this.before = before
  }

  attemptCancelled(reason: unknown): void {
    this.before?.()
    cancelCall(this.call, reason)
  }
}

/**
 * Maps keel giving up on the attempt (deadline, attempt timeout, losing hedge, drain timeout,
 * `close()`) onto the grpc-js call: DEADLINE_EXCEEDED for keel's deadlines, as grpc-js would have
 * ended it, CANCELLED otherwise. Through the attempt's `AttemptControl.canceller` (an AbortSignal
 * listener per attempt costs µs), `attempt.signal` for an attempt keel did not make. `before` runs
 * first. Undo it with `stopCancel` once the call ended.
 */
export function cancelOnAbort(
  control: AttemptControl | undefined,
  attempt: Attempt,
  call: SurfaceCall,
  before?: () => void,
): void {
  if (control !== undefined) {
    control.canceller = new CallCanceller(call, before)
    return
  }
  const signal = attempt.signal
  if (signal.aborted) {
    before?.()
    cancelCall(call, signal.reason)
    return
  }
  signal.addEventListener(
    'abort',
    () => {
      before?.()
      cancelCall(call, signal.reason)
    },
    { once: true },
  )
}

/** The call ended: keel's cancellation has nothing left to end (`AttemptControl.canceller` contract). */
export function stopCancel(control: AttemptControl | undefined): void {
  if (control !== undefined) control.canceller = undefined
}

/** `method.serialize`-ready metadata for attempt `n`: retries get a copy, as interceptors may change it. */
export function attemptMetadata<M extends { clone(): M }>(metadata: M, attempt: Attempt): M {
  return attempt.number === 1 ? metadata : metadata.clone()
}

export type { GrpcMethod }
