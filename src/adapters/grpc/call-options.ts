import { type CallOptions, type Deadline, Metadata, propagate, type requestCallback } from '@grpc/grpc-js'
import type { AdapterPort } from '../../core/ports.ts'
import { checkNumber, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { usageError } from '../../model/errors.ts'
import type { CallOptions as KeelCallOptions } from '../../options/options.ts'

/** keel's per-call options on a gRPC call, under `options.keel`. */
export interface GrpcKeelCallOptions {
  /** Routes the call with a hash picker (`ring-hash`, `maglev`). */
  readonly key?: string | Uint8Array
  /** Overrides the method's idempotency (proto `idempotency_level`, `idempotentMethods`). */
  readonly idempotent?: boolean
  /** Timeout of each attempt, in ms; each attempt's grpc deadline is never later. @default the balancer's `attemptTimeout` */
  readonly attemptTimeout?: number
  /**
   * A streaming call ends with DEADLINE_EXCEEDED after this many ms without a message either way;
   * 0 turns the limit off for this call (a watch that may stay quiet for long). Ignored by unary
   * calls. @default the client's `streamIdleTimeout`
   */
  readonly streamIdleTimeout?: number
}

/** grpc-js call options plus keel's own under `keel` (stripped before grpc-js sees them). */
export interface GrpcCallOptions extends CallOptions {
  readonly keel?: GrpcKeelCallOptions
}

const KEEL_KEYS = ['key', 'idempotent', 'attemptTimeout', 'streamIdleTimeout'] as const

/** The options of a call made without any (grpc-js copies call options; it never writes them). */
export const NO_OPTIONS: GrpcCallOptions = Object.freeze({})

/** A call's options, split between keel and grpc-js, with its overall deadline. */
export interface PreparedCall {
  /** What each attempt passes to grpc-js, before its own `deadline`. */
  readonly grpc: CallOptions
  /** What `balancer.call` gets (`undefined`: the balancer's defaults, nothing to validate). */
  readonly keel: KeelCallOptions | undefined
  /** The overall deadline on keel's clock (`core.clock.now()`); Infinity without one. */
  readonly end: number
  readonly attemptTimeout: number | undefined
  /**
   * The adapter's own limit on each attempt (ms; 0: none): `unaryTimeout` for a unary call that
   * nothing else bounds, enforced by the adapter's timer (`TimeLimits`), not sent as a deadline.
   */
  readonly limit: number
  /** The call's own `keel.streamIdleTimeout`, checked; undefined: the client's. */
  readonly streamIdle: number | undefined
  /** The caller's deadline had already passed. */
  readonly expired: boolean
}

function deadlineMs(deadline: Deadline | undefined): number {
  if (deadline === undefined) return Number.POSITIVE_INFINITY
  return deadline instanceof Date ? deadline.getTime() : deadline
}

/**
 * Splits a call's options. The caller's grpc `deadline` (and a parent call's, when propagated as
 * grpc-js does by default) becomes keel's overall `timeout`, retries and backoffs included; without
 * one the balancer's `timeout` applies. Each attempt then gets its own grpc deadline from
 * `attemptOptions`. `base` holds the method's keel options (idempotency, retry rules).
 */
export function prepareCall(
  core: AdapterPort,
  options: GrpcCallOptions,
  base: KeelCallOptions | undefined,
  fallbackAttemptTimeout = 0,
): PreparedCall {
  let grpc: CallOptions = options
  let keel = base
  let wall = Number.POSITIVE_INFINITY
  const own = options.keel
  if (options.deadline !== undefined || own !== undefined) {
    const { deadline, keel: _keel, ...rest } = options
    grpc = rest
    wall = deadlineMs(deadline)
  }
  const parent = options.parent
  if (parent !== undefined && ((options.propagate_flags ?? propagate.DEFAULTS) & propagate.DEADLINE) !== 0) {
    wall = Math.min(wall, deadlineMs(parent.getDeadline()))
  }
  let timeout = core.settings.timeout
  if (wall !== Number.POSITIVE_INFINITY) timeout = wall - core.clock.wallNow()
  const expired = timeout !== undefined && !(timeout > 0)
  if (own !== undefined) {
    if (typeof own !== 'object' || own === null) throw typeError('options.keel', 'an object', own)
    rejectUnknownKeys('keel', own, KEEL_KEYS)
  }
  const streamIdle = checkNumber('keel.streamIdleTimeout', own?.streamIdleTimeout, { min: 0, integer: true })
  if (!expired && (wall !== Number.POSITIVE_INFINITY || own !== undefined)) {
    keel = {
      ...base,
      ...(wall === Number.POSITIVE_INFINITY ? {} : { timeout: timeout as number }),
      ...(own?.key === undefined ? {} : { key: own.key }),
      ...(own?.idempotent === undefined ? {} : { idempotent: own.idempotent }),
      ...(own?.attemptTimeout === undefined ? {} : { attemptTimeout: own.attemptTimeout }),
    }
  }
  // A call bounded by nothing (no deadline, no timeout, no attempt timeout) gets the adapter's
  // default per attempt: a hung replica must not hold it forever.
  const attemptTimeout = own?.attemptTimeout ?? core.settings.attemptTimeout
  const limit = attemptTimeout === undefined && timeout === undefined ? fallbackAttemptTimeout : 0
  return {
    grpc,
    keel,
    end: timeout === undefined ? Number.POSITIVE_INFINITY : core.clock.now() + timeout,
    attemptTimeout,
    limit,
    streamIdle,
    expired,
  }
}

/**
 * `prepareCall` for one method, with the result for a call without options made once: without a
 * deadline, keel options or a balancer timeout, every such call prepares the same way.
 */
export function callPreparer(
  core: AdapterPort,
  base: KeelCallOptions | undefined,
  fallbackAttemptTimeout = 0,
): (options: GrpcCallOptions) => PreparedCall {
  const plain =
    core.settings.timeout === undefined
      ? Object.freeze(prepareCall(core, NO_OPTIONS, base, fallbackAttemptTimeout))
      : undefined
  return (options) =>
    options === NO_OPTIONS && plain !== undefined ? plain : prepareCall(core, options, base, fallbackAttemptTimeout)
}

/**
 * One attempt's grpc-js options: the caller's, with a deadline at the time left of the overall
 * deadline, never later than the attempt timeout, so grpc-js ends the attempt (and tells the
 * server with `grpc-timeout`) when keel would.
 */
export function attemptOptions(core: AdapterPort, call: PreparedCall): CallOptions {
  const attemptTimeout = call.attemptTimeout
  if (call.end === Number.POSITIVE_INFINITY && attemptTimeout === undefined) return call.grpc
  let budget = call.end - core.clock.now()
  if (attemptTimeout !== undefined && attemptTimeout < budget) budget = attemptTimeout
  if (budget === Number.POSITIVE_INFINITY) return call.grpc
  return { ...call.grpc, deadline: core.clock.wallNow() + Math.max(0, budget) }
}

/**
 * The call's overall deadline has passed. grpc-js measures deadlines on the wall clock and keel on
 * its monotonic clock: a millisecond of slack covers the two clocks' rounding.
 */
export function deadlinePassed(core: AdapterPort, call: PreparedCall): boolean {
  return core.clock.now() >= call.end - 1
}

/** `(metadata?, options?, callback)`, as grpc-js `Client` reads them. */
export function callbackArguments(
  arg1: unknown,
  arg2: unknown,
  arg3: unknown,
): { metadata: Metadata; options: GrpcCallOptions; callback: requestCallback<unknown> } {
  // A call without options shares NO_OPTIONS, so it takes the method's prepared call as it is.
  if (typeof arg1 === 'function')
    return { metadata: new Metadata(), options: NO_OPTIONS, callback: arg1 as requestCallback<unknown> }
  if (typeof arg2 === 'function') {
    const callback = arg2 as requestCallback<unknown>
    if (arg1 instanceof Metadata) return { metadata: arg1, options: NO_OPTIONS, callback }
    return { metadata: new Metadata(), options: (arg1 ?? NO_OPTIONS) as GrpcCallOptions, callback }
  }
  if (!(arg1 instanceof Metadata && arg2 instanceof Object && typeof arg3 === 'function')) {
    // grpc-js's own message for the same mistake, with a code.
    throw usageError('KEEL_INVALID_ARGUMENTS', 'Incorrect arguments passed')
  }
  return { metadata: arg1, options: arg2 as GrpcCallOptions, callback: arg3 as requestCallback<unknown> }
}

/** `(metadata?, options?)`, as grpc-js `Client` reads them for streaming calls. */
export function streamArguments(arg1: unknown, arg2: unknown): { metadata: Metadata; options: GrpcCallOptions } {
  if (arg1 instanceof Metadata) return { metadata: arg1, options: (arg2 ?? NO_OPTIONS) as GrpcCallOptions }
  return { metadata: new Metadata(), options: (arg1 ?? NO_OPTIONS) as GrpcCallOptions }
}
