import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'

export type RawHeaders = Buffer[] | string[] | IncomingHttpHeaders | null

/**
 * Ends an attempt the caller aborted or that lost to another: named like the DOM's abort, and its
 * attempt tells keel its verdict (`cancelled`) through `AttemptControl.knownVerdict`.
 */
export class AbortedAttempt extends Error {
  readonly code: string
  constructor(message: string, cause: unknown) {
    super(message, { cause })
    this.name = 'AbortError'
    this.code = 'UND_ERR_ABORTED'
  }
}

/** What the controller reads and drives of its dispatch. */
export interface RunState {
  readonly aborted: boolean
  readonly abortReason: Error | undefined
  readonly committed: { readonly controller: Dispatcher.DispatchController | undefined } | undefined
  abort(reason: Error | undefined): void
}

/**
 * The controller the caller's handler sees for the whole dispatch, whichever attempt runs:
 * `abort` ends the call (every attempt, any retry), `pause`/`resume` apply to the attempt whose
 * response the handler receives.
 */
export class RunController implements Dispatcher.DispatchController {
  rawHeaders: RawHeaders = null
  rawTrailers: RawHeaders = null
  readonly #run: RunState
  #paused = false

  constructor(run: RunState) {
    this.#run = run
  }

  get aborted(): boolean {
    return this.#run.aborted
  }

  get paused(): boolean {
    return this.#paused
  }

  get reason(): Error | null {
    return this.#run.abortReason ?? null
  }

  abort(reason?: Error): void {
    this.#run.abort(reason)
  }

  pause(): void {
    this.#paused = true
    this.#run.committed?.controller?.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#run.committed?.controller?.resume()
  }
}
