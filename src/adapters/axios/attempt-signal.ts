import type { AttemptCanceller, AttemptControl } from '../../core/ports.ts'

type Listener = (event: { readonly type: 'abort' }) => void

/** What axios' http adapter gets when keel ends the attempt: an event, so it rejects with `CanceledError`. */
const ABORT_EVENT = Object.freeze({ type: 'abort' as const })

/**
 * The `signal` of one attempt's axios config: the part of `AbortSignal` axios' http adapter uses
 * (`aborted`, `reason`, one `'abort'` listener added and removed; lib/adapters/http.js), aborted
 * through the attempt's `AttemptControl.canceller` when keel gives up on the attempt (deadline,
 * lost hedge, drain timeout, `close()`). The attempt's own `AbortSignal` would cost an
 * `AbortController` and an `EventTarget` listener on every request; this costs two small objects.
 */
export class AttemptSignal implements AttemptCanceller {
  aborted = false
  reason: unknown = undefined
  onabort: ((event: unknown) => void) | null = null
  #listeners: Listener[] | undefined = undefined

  constructor(control: AttemptControl) {
    if (control.cancelled) {
      this.aborted = true
      this.reason = control.cancelReason
    } else control.canceller = this
  }

  addEventListener(type: string, listener: Listener): void {
    if (type !== 'abort') return
    if (this.#listeners === undefined) this.#listeners = [listener]
    else this.#listeners.push(listener)
  }

  removeEventListener(type: string, listener: Listener): void {
    const listeners = this.#listeners
    if (type !== 'abort' || listeners === undefined) return
    const at = listeners.indexOf(listener)
    if (at >= 0) listeners.splice(at, 1)
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason
  }

  /** keel gave up on the attempt (`AttemptControl.canceller`). */
  attemptCancelled(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.onabort?.(ABORT_EVENT)
    const listeners = this.#listeners
    if (listeners === undefined) return
    this.#listeners = undefined
    for (const listener of listeners) listener(ABORT_EVENT)
  }
}
