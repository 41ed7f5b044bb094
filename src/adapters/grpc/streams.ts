import { Duplex } from 'node:stream'
import type { requestCallback, ServiceError, StatusObject } from '@grpc/grpc-js'
import { status as Status } from '@grpc/grpc-js'
import type { Attempt } from '../../model/attempt.ts'
import type { CallOptions as KeelCallOptions } from '../../options/options.ts'
import {
  cancelOnAbort,
  type GrpcContext,
  type GrpcMethod,
  probeChannel,
  type SurfaceCall,
  stopCancel,
} from './attempt.ts'
import {
  attemptOptions,
  callbackArguments,
  deadlinePassed,
  type PreparedCall,
  prepareCall,
  streamArguments,
} from './call-options.ts'
import type { EndpointChannel } from './channel.ts'
import {
  type ChannelProbe,
  classifyAttemptError,
  deliver,
  errorFromStatus,
  serviceError,
  statusOf,
  surfaceError,
} from './errors.ts'
import type { IdleWatch } from './time-limits.ts'

/**
 * Client-streaming and bidi calls are balanced, never retried (their requests are written by the
 * caller as the call goes, so keel cannot replay them), and never hedged. The caller gets the
 * grpc-js call object of the one attempt itself — same events, back-pressure and errors as
 * grpc-js. The attempt counts as in flight until the call's status arrives.
 */
const ONE_ATTEMPT: KeelCallOptions = Object.freeze({ retry: false, hedge: false })

/** A stream the caller reads and writes, as grpc-js makes it: messages in through `push`, out through `_write`. */
type ActiveCall = SurfaceCall & {
  push?: (chunk: unknown, encoding?: BufferEncoding) => boolean
  _write?: (chunk: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void) => void
  readableLength?: number
}

/**
 * The call's idle limit (`streamIdleTimeout`): every message grpc-js hands the caller (`push`) and
 * every message the caller writes (`_write`) is activity. Messages waiting for the caller to read
 * them mean the caller is behind, not the server. Wraps the two methods on this call object only.
 */
function watchIdle(context: GrpcContext, prepared: PreparedCall, call: SurfaceCall): IdleWatch | undefined {
  const ms = prepared.streamIdle ?? context.streamIdleTimeout
  if (ms === 0) return undefined
  const active = call as ActiveCall
  const idle = context.limits.idle(ms, call, () => (active.readableLength ?? 0) > 0)
  const push = active.push
  if (typeof push === 'function') {
    active.push = function (this: unknown, chunk: unknown, encoding?: BufferEncoding) {
      idle.touch()
      return push.call(this, chunk, encoding)
    }
  }
  const write = active._write
  if (typeof write === 'function') {
    active._write = function (this: unknown, chunk, encoding, callback) {
      idle.touch()
      write.call(this, chunk, encoding, callback)
    }
  }
  return idle
}

/**
 * Ends the keel attempt with the call: resolves on an OK status, rejects with the status's error
 * (classified with what the adapter knows) otherwise. `cancel()` is wrapped to tell a caller's
 * cancel from a server's reset.
 */
function attemptEnd(
  context: GrpcContext,
  prepared: PreparedCall,
  call: SurfaceCall,
  probe: ChannelProbe,
  attempt: Attempt,
): Promise<void> {
  let cancelled = false
  const cancel = call.cancel.bind(call)
  call.cancel = () => {
    cancelled = true
    cancel()
  }
  const control = context.core.control(attempt)
  cancelOnAbort(control, attempt, call)
  const idle = watchIdle(context, prepared, call)
  return new Promise<void>((resolve, reject) => {
    call.on('status', (received: StatusObject) => {
      stopCancel(control)
      idle?.stop()
      if (received.code === Status.OK) {
        resolve()
        return
      }
      const error = errorFromStatus(received)
      classifyAttemptError(control, error, {
        probe,
        peer: call.getPeer(),
        cancelled,
        deadlinePassed: deadlinePassed(context.core, prepared),
      })
      reject(error)
    })
  })
}

/**
 * A stand-in for a call that no endpoint could take (none available, balancer closed, deadline
 * already passed): a stream that accepts writes, ends at once and reports the error as grpc-js
 * reports a failed call (`error` and `status` events, or the callback for client streaming).
 */
class FailedCall extends Duplex {
  constructor() {
    super({ objectMode: true })
  }
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    callback()
  }
  cancel(): void {}
  getPeer(): string {
    return 'unknown'
  }
  getAuthContext(): null {
    return null
  }
  fail(error: unknown, callback: requestCallback<unknown> | undefined): void {
    this.push(null)
    if (callback !== undefined) callback(error as ServiceError)
    else this.emit('error', error)
    const status = statusOf(error)
    if (status !== undefined) this.emit('status', status)
  }
}

function start(
  context: GrpcContext,
  prepared: PreparedCall,
  open: (channel: EndpointChannel) => SurfaceCall,
  callback: requestCallback<unknown> | undefined,
): SurfaceCall {
  let call: SurfaceCall | undefined
  let result: Promise<void>
  if (prepared.expired) {
    result = Promise.reject(serviceError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'))
  } else {
    // keel runs `fn` of a call's first attempt synchronously, inside `balancer.call`: the
    // attempt's grpc-js call exists when it returns, unless no endpoint could take it.
    result = context.balancer.call((endpoint, attempt) => {
      const probe = probeChannel(context, endpoint)
      call = open(probe.channel)
      return attemptEnd(context, prepared, call, probe, attempt)
    }, prepared.keel)
  }
  if (call !== undefined) {
    // The call object reports its own outcome to the caller.
    result.catch(() => {})
    return call
  }
  const failed = new FailedCall()
  result.then(
    () => {},
    (reason: unknown) => {
      const error = surfaceError(reason)
      process.nextTick(() => deliver(() => failed.fail(error, callback)))
    },
  )
  return failed
}

/** A balanced client-streaming method: `(metadata?, options?, callback)`. */
export function clientStreamMethod(context: GrpcContext, method: GrpcMethod) {
  return function balancedClientStream(arg1?: unknown, arg2?: unknown, arg3?: unknown): SurfaceCall {
    const { metadata, options, callback } = callbackArguments(arg1, arg2, arg3)
    const prepared = prepareCall(context.core, options, ONE_ATTEMPT)
    return start(
      context,
      prepared,
      (channel) =>
        channel.client.makeClientStreamRequest(
          method.path,
          method.serialize,
          method.deserialize,
          metadata,
          attemptOptions(context.core, prepared),
          callback,
        ),
      callback,
    )
  }
}

/** A balanced bidi method: `(metadata?, options?)`. */
export function bidiMethod(context: GrpcContext, method: GrpcMethod) {
  return function balancedBidi(arg1?: unknown, arg2?: unknown): SurfaceCall {
    const { metadata, options } = streamArguments(arg1, arg2)
    const prepared = prepareCall(context.core, options, ONE_ATTEMPT)
    return start(
      context,
      prepared,
      (channel) =>
        channel.client.makeBidiStreamRequest(
          method.path,
          method.serialize,
          method.deserialize,
          metadata,
          attemptOptions(context.core, prepared),
        ),
      undefined,
    )
  }
}
