import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { AdapterPort, AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { AbortedAttempt } from './aborted-attempt.ts'
import { DispatchedResponse } from './dispatched-response.ts'

/** What an attempt's handler asks of its call (`HandlerRun`): one call, many attempts. */
export interface HandlerRun {
  readonly host: { readonly pools: ResourceHandle<Dispatcher>; readonly port: AdapterPort }
  readonly aborted: boolean
  readonly done: boolean
  readonly touched: boolean
  /** The attempt whose response the caller's handler receives, and the latest one started. */
  readonly committed: AttemptHandler | undefined
  current: AttemptHandler | undefined
  abortError(): AbortedAttempt
  lostError(): AbortedAttempt
  attemptOptions(endpoint: Endpoint<unknown>): Dispatcher.DispatchOptions
  shouldHold(attempt: AttemptHandler, response: DispatchedResponse): boolean
  claim(attempt: AttemptHandler): boolean
  handOver(attempt: AttemptHandler, response: DispatchedResponse): void
  forwardData(attempt: AttemptHandler, chunk: Buffer): void
  informational(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage: string | undefined,
  ): void
  upgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void
  committedEnded(attempt: AttemptHandler, response: DispatchedResponse): void
  committedFailed(attempt: AttemptHandler, error: unknown): void
}

/** What an attempt that upgraded the connection (101, CONNECT) returns: a success. */
export interface Upgraded {
  readonly upgraded: number
}

/**
 * One attempt of a `BalancerDispatcher` call: the handler of one dispatch to the picked
 * endpoint's Pool. Its promise settles when the response body ends, errors or is aborted, so the
 * endpoint counts the request in flight for as long as the download runs (docs/undici.md). A
 * response keel may retry is held back (headers and up to 64 KiB of body) until keel decides;
 * any other response is handed to the caller's handler as it arrives, and keel never retries
 * after that.
 */
export class AttemptHandler implements Dispatcher.DispatchHandler, AttemptCanceller {
  readonly run: HandlerRun
  /**
   * keel's handle on the attempt: its cancellation reaches the dispatch through `canceller`. The
   * handler keeps only this, not the attempt and its endpoint as well: two fields fewer on an
   * object every request makes.
   */
  readonly control: AttemptControl
  controller: Dispatcher.DispatchController | undefined = undefined
  response: DispatchedResponse | undefined = undefined
  holding = false
  settled = false
  /** Why the request must be aborted as soon as undici starts it. */
  abortWith: Error | undefined = undefined

  constructor(run: HandlerRun, attempt: Attempt) {
    this.run = run
    this.control = run.host.port.control(attempt)!
  }

  /** Sends the attempt to `endpoint`; its outcome reaches keel through `control.succeed` / `control.fail`. */
  start(endpoint: Endpoint<unknown>): void {
    const run = this.run
    // A hedge launched while an earlier attempt's response streams to the caller: send nothing.
    const refused = run.aborted
      ? run.abortError()
      : run.committed !== undefined || run.done
        ? run.lostError()
        : undefined
    if (refused !== undefined) {
      this.#cancelled(refused)
      return
    }
    // keel tells this handler when it cancels the attempt (deadline, attempt timeout, drain,
    // close) through the attempt's `canceller`: cheaper than reading `attempt.signal`.
    const control = this.control
    if (control.cancelled) {
      this.fail(control.cancelReason)
      return
    }
    control.canceller = this
    let pool: Dispatcher
    let options: Dispatcher.DispatchOptions
    try {
      pool = run.host.pools.get(endpoint)
      options = run.attemptOptions(endpoint)
    } catch (error) {
      this.fail(error)
      return
    }
    run.current = this
    pool.dispatch(options, this)
  }

  /** keel gave up on the attempt (deadline, attempt timeout, drain, close): stop the request. */
  attemptCancelled(reason: unknown): void {
    // Once the caller has the response, keel must not retry whatever it ends with.
    if (this.run.committed === this) this.control.handOver()
    this.abort(reason as Error)
  }

  abort(reason: Error): void {
    if (this.controller !== undefined) this.controller.abort(reason)
    else this.abortWith = reason
    this.fail(reason)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    const reason = this.abortWith ?? (this.run.aborted ? this.run.abortError() : undefined)
    if (reason !== undefined) controller.abort(reason)
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void {
    const run = this.run
    if (this.settled || !run.claim(this)) {
      socket.destroy()
      return
    }
    run.upgrade(controller, statusCode, headers, socket)
    this.control.handOver()
    this.succeed({ upgraded: statusCode })
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const run = this.run
    if (this.settled || run.done) {
      controller.abort(this.abortWith ?? run.abortError())
      return
    }
    if (statusCode < 200) {
      run.informational(controller, statusCode, headers, statusMessage)
      return
    }
    if (run.committed !== undefined) {
      // Another attempt of this call already answered the caller (a hedge): this one lost.
      controller.abort(run.lostError())
      return
    }
    const response = new DispatchedResponse(this, statusCode, headers, statusMessage ?? '', controller.rawHeaders)
    this.response = response
    if (run.shouldHold(this, response)) this.holding = true
    else run.handOver(this, response)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const response = this.response
    // After an early answer to keel (below), the rest of the body still streams to the caller.
    if (response === undefined || (this.settled && this.run.committed !== this)) return
    if (this.holding) {
      if (!response.hold(chunk)) {
        // Past 64 KiB keel stops buffering and decides on what it has, as it does for fetch: the
        // exchange pauses and the attempt answers now. A retry drops the rest (`dump()` aborts
        // the request); otherwise the caller gets the held part, then the rest as it arrives.
        this.holding = false
        controller.pause()
        response.overflow = () => controller.abort(this.run.lostError())
        this.succeed(response)
      }
      return
    }
    this.run.forwardData(this, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const response = this.response
    if (response === undefined) return
    response.trailers = trailers
    response.rawTrailers = controller.rawTrailers
    this.holding = false
    // The caller's handler hears the end first, then keel ends the attempt (which may settle the
    // call at once, and with it the dispatch).
    this.run.committedEnded(this, response)
    this.succeed(response)
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const run = this.run
    if (run.committed === this || run.touched) this.control.handOver()
    run.committedFailed(this, error)
    this.fail(run.aborted ? run.abortError() : error)
  }

  #cancelled(error: AbortedAttempt): void {
    this.settled = true
    this.control.knownVerdict('cancelled')
    this.control.fail(error)
  }

  succeed(value: DispatchedResponse | Upgraded): void {
    if (this.settled) return
    this.settled = true
    this.control.canceller = undefined
    this.control.succeed(value)
  }

  fail(error: unknown): void {
    if (this.settled) return
    this.settled = true
    // The caller aborted, or another attempt answered: keel's verdict is `cancelled`.
    if (error instanceof AbortedAttempt) this.control.knownVerdict('cancelled')
    this.control.canceller = undefined
    this.control.fail(error)
  }
}
