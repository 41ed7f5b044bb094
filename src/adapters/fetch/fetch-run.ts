import type { Balancer } from '../../balancer.ts'
import type { AdapterPort, AttemptControl, OutcomeClassify } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import { isOnceBody } from '../http/body-kind.ts'
import { AttemptLost, HandedOver } from '../http/handed-over.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { OnceBody } from '../http/once-body.ts'
import { mayRetryResponse, type RetryPolicies } from '../http/retry-policy.ts'
import { httpUrl } from '../http/target.ts'
import type { IdleTimeouts } from '../http/timeouts.ts'
import { AttemptDispatcher, type DispatchTarget } from './attempt-dispatcher.ts'
import type { EndpointDispatchers } from './endpoint-dispatchers.ts'
import { trackBody } from './tracked-body.ts'

/** A fetch-compatible function. */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>

/** What a balanced fetch call needs from its `createFetch`. */
export interface FetchHost {
  readonly balancer: Balancer<unknown>
  readonly port: AdapterPort
  readonly classifier: OutcomeClassify
  readonly policies: RetryPolicies
  /** Call options by `(once ? 2 : 0) + (idempotent ? 1 : 0)`. */
  readonly callOptions: readonly CallOptions[]
  readonly dispatchers: EndpointDispatchers
  /** Idle limits of each exchange (`headersTimeout`, `bodyTimeout`). */
  readonly timeouts: IdleTimeouts
  fetch(): FetchFunction
}

/** The caller cancelled or dropped a handed-over body: keel's verdict is `cancelled`. */
class BodyDropped extends Error {
  constructor(reason: unknown) {
    super(`The response body was released before its end: ${String(reason)}`)
    this.name = 'AbortError'
  }
}

/**
 * One call of a balanced fetch: a `balancer.call` whose attempts each fetch from the picked
 * endpoint. A response keel could retry is returned to keel (discarded if it retries, so the
 * socket is reused); any other is handed to the caller at once, and its attempt stays in flight
 * until the response body has been received — keel never retries after that.
 */
export class FetchRun {
  readonly host: FetchHost
  readonly path: string
  readonly init: Record<string, unknown>
  readonly options: CallOptions
  readonly idempotent: boolean
  readonly body: OnceBody | undefined
  #delivered = false
  #resolve: ((response: Response) => void) | undefined
  #reject: ((error: unknown) => void) | undefined

  constructor(host: FetchHost, path: string, init: Record<string, unknown>) {
    this.host = host
    this.path = path
    const { body, key, idempotent: explicit, ...rest } = init
    const method = typeof rest.method === 'string' ? rest.method.toUpperCase() : 'GET'
    this.idempotent = isIdempotentRequest(method, explicit as boolean | undefined, rest.headers)
    const once = isOnceBody(body)
    this.body = once ? new OnceBody(body as ReadableStream) : undefined
    this.init = once ? { ...rest, duplex: 'half' } : body === undefined ? rest : { ...rest, body }
    const signal = rest.signal ?? undefined
    let options = host.callOptions[(once ? 2 : 0) + (this.idempotent ? 1 : 0)]!
    if (key !== undefined || signal !== undefined) {
      options = {
        ...options,
        ...(key === undefined ? {} : { key: key as string | Uint8Array }),
        ...(signal === undefined ? {} : { signal: signal as AbortSignal }),
      }
    }
    this.options = options
  }

  start(): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      this.host.balancer.call(this.attempt, this.options).then(
        (response) => this.#answer(response as Response),
        (error: unknown) => {
          if (this.#delivered) return
          this.body?.release(error)
          this.#fail(lastAttemptError(error))
        },
      )
    })
  }

  /**
   * Settles the caller's promise and forgets how: a settled promise holds its `Response`, and the
   * attempt (reachable from the socket while the body streams) must not keep a response the
   * caller dropped reachable through it — undici cancels a collected response's body, which is
   * what ends an attempt whose body is never read.
   */
  #answer(response: Response): void {
    if (this.#delivered) return
    this.#delivered = true
    const resolve = this.#resolve
    this.#resolve = undefined
    this.#reject = undefined
    resolve?.(response)
  }

  #fail(error: unknown): void {
    this.#delivered = true
    const reject = this.#reject
    this.#resolve = undefined
    this.#reject = undefined
    reject?.(error)
  }

  readonly attempt = async (endpoint: Endpoint<unknown>, attempt: Attempt): Promise<Response | HandedOver> => {
    const { host } = this
    const control = host.port.control(attempt)!
    // A hedge launched while an earlier attempt's response is with the caller: send nothing.
    if (this.#delivered) throw new AttemptLost(control)
    const init: Record<string, unknown> = { ...this.init }
    if (this.body !== undefined) init.body = this.body.stream()
    const target = host.dispatchers.needs(endpoint) ? await host.dispatchers.get(endpoint) : init.dispatcher
    const dispatcher = new AttemptDispatcher(target as DispatchTarget | undefined, host.timeouts)
    init.dispatcher = dispatcher
    // keel's cancellations (deadline, attempt timeout, drain, close) reach the exchange through
    // the dispatcher; the caller's own signal goes to fetch as given.
    if (control.cancelled) throw control.cancelReason
    control.onCancel = (reason) => dispatcher.attemptCancelled(reason)
    let res: Response
    try {
      res = await host.fetch()(httpUrl(endpoint, this.path), init as RequestInit)
    } catch (error) {
      // A body read once and already sent cannot be sent again.
      if (this.body?.spent) control.handOver()
      throw error
    }
    this.body?.sent()
    if (control.cancelled) return res
    if (this.#delivered) {
      // Another attempt of this call (a hedge) already answered the caller: this one lost.
      void res.body?.cancel().catch(() => {})
      throw new AttemptLost(control)
    }
    // Classified once: keel takes this result for the attempt (`AttemptControl.classified`).
    const result = host.classifier.value(res)
    control.classified(result)
    if (
      this.body === undefined &&
      attempt.number <= host.policies.retries &&
      mayRetryResponse(result, this.idempotent)
    ) {
      return res
    }
    return this.#deliver(res, dispatcher, control)
  }

  /**
   * Hands `res` to the caller; the attempt stays in flight until its body has ended. Not `async`:
   * the wait must not keep `res` reachable (an async frame holds its arguments until it returns),
   * or a response dropped unread is never collected, undici never cancels its stream, and the
   * attempt and its socket stay busy forever.
   */
  #deliver(res: Response, dispatcher: AttemptDispatcher, control: AttemptControl): Promise<HandedOver> {
    // The caller has the response: keel never retries this attempt, whatever happens to its body.
    control.handOver()
    const handedOver = new HandedOver(res)
    dispatcher.handedOver = true
    let ended: Promise<void>
    if (dispatcher.dispatched || res.body === null) {
      this.#answer(res)
      ended = dispatcher.settled()
    } else {
      // A fetch that ignores `dispatcher` (not built on undici): watch the body stream instead.
      const tracked = trackBody(res, res.body)
      this.#answer(tracked.response)
      ended = tracked.ended
    }
    return ended.then(
      () => handedOver,
      (error: unknown) => {
        // A bare reason, not an Error, is someone cancelling the body — undici's own
        // `'Response object has been garbage collected'` when the caller dropped it unread —
        // never a network failure: the attempt is cancelled and costs its endpoint nothing.
        throw typeof error === 'object' && error !== null ? error : new BodyDropped(error)
      },
    )
  }
}
