import { type ClientUnaryCall, connectivityState } from '@grpc/grpc-js'
import type { Balancer } from '../../balancer.ts'
import type { AdapterPort } from '../../core/ports.ts'
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

function cancelCall(call: SurfaceCall, reason: unknown): void {
  const { code, details } = abortStatus(reason)
  if (call.call !== undefined) call.call.cancelWithStatus(code, details)
  else call.cancel()
}

/** keel's attempt object, with its internal cancellation hook (`AttemptImpl.onCancel`). */
type HookedAttempt = Attempt & { onCancel?: ((reason: unknown) => void) | undefined }

/**
 * Maps keel giving up on the attempt (deadline, attempt timeout, losing hedge, drain timeout,
 * `close()`) onto the grpc-js call: DEADLINE_EXCEEDED for keel's deadlines, as grpc-js would have
 * ended it, CANCELLED otherwise. Uses keel's internal `onCancel` hook (an AbortSignal listener
 * per attempt costs µs), `attempt.signal` otherwise. `before` runs first. Returns the remover.
 */
export function cancelOnAbort(attempt: Attempt, call: SurfaceCall, before?: () => void): () => void {
  if ('onCancel' in attempt) {
    const hooked = attempt as HookedAttempt
    hooked.onCancel = (reason) => {
      before?.()
      cancelCall(call, reason)
    }
    return () => {
      hooked.onCancel = undefined
    }
  }
  const signal = attempt.signal
  const onAbort = () => {
    before?.()
    cancelCall(call, signal.reason)
  }
  if (signal.aborted) {
    onAbort()
    return () => {}
  }
  signal.addEventListener('abort', onAbort, { once: true })
  return () => signal.removeEventListener('abort', onAbort)
}

/** `method.serialize`-ready metadata for attempt `n`: retries get a copy, as interceptors may change it. */
export function attemptMetadata<M extends { clone(): M }>(metadata: M, attempt: Attempt): M {
  return attempt.number === 1 ? metadata : metadata.clone()
}

export type { GrpcMethod }
