import { abortReason } from '../internal/abort.ts'
import type { TimerEntry, TimerQueue } from '../internal/timer-queue.ts'
import { BalancerClosedError, DeadlineExceededError, NoEndpointAvailableError } from '../model/errors.ts'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
  /** Calls wait for the first answer of any kind; `ready()` waits for the first set. */
  call: boolean
  entry: TimerEntry | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * What happens before a discovery source's first answer (gRPC's channel model: RPCs queue while
 * the resolver has not answered, and fail once it reports an error). Calls made before the first
 * answer wait for it, bounded by their own `timeout` and `signal`; when the first answer is an
 * error (or an empty set without `allowEmpty`), the waiting calls fail with
 * `NoEndpointAvailableError('empty')` whose `cause` is that error. `ready()` waits for the first
 * set the balancer applied, across errors.
 */
export class FirstAnswer {
  readonly #timers: TimerQueue
  readonly #waiters = new Set<Waiter>()
  /** A set was applied: `ready()` resolves at once. */
  applied = false

  constructor(timers: TimerQueue) {
    this.#timers = timers
  }

  /** Waits for the first answer (for a call that started at clock time `now`). */
  waitForCall(now: number, signal: AbortSignal | undefined, timeout: number | undefined): Promise<void> {
    return this.#wait(true, signal, timeout === undefined ? undefined : { at: now + timeout, timeout })
  }

  /** Waits for the first applied set. */
  ready(signal: AbortSignal | undefined): Promise<void> {
    if (this.applied) return Promise.resolve()
    return this.#wait(false, signal, undefined)
  }

  /** The first set was applied: every waiter proceeds. */
  answered(): void {
    this.applied = true
    for (const waiter of [...this.#waiters]) this.#settle(waiter, undefined)
  }

  /** The first answer was an error: waiting calls fail; `ready()` keeps waiting for a set. */
  failed(error: unknown): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.call) this.#settle(waiter, new NoEndpointAvailableError('empty', undefined, { cause: error }))
    }
  }

  /** The balancer is closing: everything waiting fails. */
  close(): void {
    for (const waiter of [...this.#waiters]) this.#settle(waiter, new BalancerClosedError())
  }

  #wait(call: boolean, signal: AbortSignal | undefined, deadline: { at: number; timeout: number } | undefined) {
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, call, entry: undefined, signal, onAbort: undefined }
      this.#waiters.add(waiter)
      if (deadline !== undefined) {
        // A pending call depends on this wait: keepAlive, like the call's own deadline.
        waiter.entry = this.#timers.schedule(
          deadline.at,
          () => {
            waiter.entry = undefined
            this.#settle(waiter, new DeadlineExceededError(deadline.timeout))
          },
          true,
        )
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.#settle(waiter, abortReason(signal))
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
    })
  }

  #settle(waiter: Waiter, error: unknown): void {
    if (!this.#waiters.delete(waiter)) return
    if (waiter.entry !== undefined) this.#timers.cancel(waiter.entry)
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort)
    if (error === undefined) waiter.resolve()
    else waiter.reject(error)
  }
}
