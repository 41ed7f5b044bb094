import { type ClientUnaryCall, status } from '@grpc/grpc-js'
import type { Clock } from '../../internal/clock.ts'
import { type TimerEntry, TimerQueue } from '../../internal/timer-queue.ts'

/** Any grpc-js call object (`SurfaceCall`): `cancel()` and the interceptor chain under `call`. */
type SurfaceCall = ClientUnaryCall

/**
 * The adapter's own time limits: the default limit of a unary attempt (`unaryTimeout`) and the
 * idle limit of a streaming call (`streamIdleTimeout`), on one timer queue per client (one clock
 * timer, unref'd, for every call in flight) that the balancer's `close()` stops. Kept on keel's
 * side rather than as a grpc-js `deadline`: a deadline costs grpc-js a timer and a `grpc-timeout`
 * header on every call (10–15 µs of client CPU per call on Node 24), and an idle limit is no
 * deadline at all.
 */
export class TimeLimits {
  readonly clock: Clock
  readonly #queue: TimerQueue

  constructor(clock: Clock) {
    this.clock = clock
    this.#queue = new TimerQueue(clock)
  }

  /** Runs `fire` in `ms`, unless the returned entry is cancelled first. */
  after(ms: number, fire: () => void): TimerEntry {
    return this.#queue.schedule(this.clock.now() + ms, fire)
  }

  cancel(entry: TimerEntry): void {
    this.#queue.cancel(entry)
  }

  /** Watches a streaming call for `ms` without activity (`IdleWatch.touch`); see `IdleWatch`. */
  idle(ms: number, call: SurfaceCall, behind: () => boolean): IdleWatch {
    return new IdleWatch(this, ms, call, behind)
  }

  close(): void {
    this.#queue.close()
  }
}

/** Ends a grpc-js call with `code` and `details`, as grpc-js ends a call past its deadline. */
export function endCall(call: SurfaceCall, code: number, details: string): void {
  if (call.call !== undefined) call.call.cancelWithStatus(code, details)
  else call.cancel()
}

/**
 * The idle limit of one streaming call, Envoy's `stream_idle_timeout` on the client: the call
 * ends with DEADLINE_EXCEEDED (`Stream idle for <ms> ms`) once `ms` pass without a message either
 * way. Activity only stamps a time (`touch`); the one timer entry, when it fires early, moves to
 * the last activity plus `ms`. While the caller is behind (`behind()`: messages wait for it to
 * read them) the stream is not idle: the server is not the one stuck.
 */
export class IdleWatch {
  #last: number
  #entry: TimerEntry | undefined
  readonly #limits: TimeLimits
  readonly #ms: number
  readonly #call: SurfaceCall
  readonly #behind: () => boolean

  constructor(limits: TimeLimits, ms: number, call: SurfaceCall, behind: () => boolean) {
    this.#limits = limits
    this.#ms = ms
    this.#call = call
    this.#behind = behind
    this.#last = limits.clock.now()
    this.#entry = limits.after(ms, this.#check)
  }

  touch(): void {
    this.#last = this.#limits.clock.now()
  }

  stop(): void {
    if (this.#entry !== undefined) this.#limits.cancel(this.#entry)
    this.#entry = undefined
  }

  readonly #check = (): void => {
    if (this.#entry === undefined) return
    const limits = this.#limits
    const now = limits.clock.now()
    if (this.#behind()) this.#last = now
    const at = this.#last + this.#ms
    if (at > now) {
      this.#entry = limits.after(at - now, this.#check)
      return
    }
    this.#entry = undefined
    endCall(this.#call, status.DEADLINE_EXCEEDED, `Stream idle for ${this.#ms} ms`)
  }
}
