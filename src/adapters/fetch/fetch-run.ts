import type { Balancer } from '../../balancer.ts'
import type { AdapterCall, AdapterPort, AttemptControl, OutcomeClassify, ResolvedCall } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import { isOnceBody } from '../http/body-kind.ts'
import { AttemptLost } from '../http/handed-over.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { OnceBody } from '../http/once-body.ts'
import { mayRetryResponse, type RetryPolicies } from '../http/retry-policy.ts'
import { httpUrl } from '../http/target.ts'
import type { IdleTimeouts } from '../http/timeouts.ts'
import { AttemptDispatcher, type DispatchTarget, reportBodyEnd } from './attempt-dispatcher.ts'
import type { EndpointDispatchers } from './endpoint-dispatchers.ts'
import { trackBody } from './tracked-body.ts'

/**
 * What a handed-over attempt ends with: the caller has the `Response`, classified before it was
 * handed over, so nothing reads this. Not a copy of the response's head: fetch's getters cost.
 */
const WITH_CALLER = Object.freeze({ body: null, bodyUsed: true })

/**
 * A fetch-compatible function: Node's global `fetch`, undici's, or one built on either. `init` is
 * untyped because the two describe `RequestInit` with different undici type versions (Node's
 * bundled `undici-types` and the `undici` package), so neither fetch would fit the other's type;
 * keel passes the caller's init through with `signal` (and `dispatcher`) set.
 */
// biome-ignore lint/suspicious/noExplicitAny: accepts both fetches' RequestInit types (see above)
export type FetchFunction = (input: string, init?: any) => Promise<Response>

/** What a balanced fetch call needs from its `createFetch`. */
export interface FetchHost {
  readonly balancer: Balancer<unknown>
  readonly port: AdapterPort
  readonly classifier: OutcomeClassify
  readonly policies: RetryPolicies
  /** Call options by `(once ? 2 : 0) + (idempotent ? 1 : 0)`… */
  readonly callOptions: readonly CallOptions[]
  /** … and resolved once (`AdapterPort.resolveCall`). */
  readonly resolvedCalls: readonly ResolvedCall[]
  readonly dispatchers: EndpointDispatchers
  /** Idle limits of each exchange (`headersTimeout`, `bodyTimeout`). */
  readonly timeouts: IdleTimeouts
  fetch(): FetchFunction
}

/**
 * One call of a balanced fetch: a `balancer.call` whose attempts each fetch from the picked
 * endpoint. A response keel could retry is returned to keel (discarded if it retries, so the
 * socket is reused); any other is handed to the caller at once, and its attempt stays in flight
 * until the response body has been received — keel never retries after that.
 */
export class FetchRun implements AdapterCall {
  readonly host: FetchHost
  readonly path: string
  /** keel's copy of the caller's init (never the caller's object): the first attempt sends it. */
  readonly init: Record<string, unknown>
  /** The caller's `dispatcher`, if any: what each attempt's `AttemptDispatcher` forwards to. */
  readonly target: unknown
  /** The call's options; undefined when the table's resolved ones apply (`index`). */
  readonly options: CallOptions | undefined
  readonly index: number
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
    this.target = rest.dispatcher
    const signal = rest.signal ?? undefined
    this.index = (once ? 2 : 0) + (this.idempotent ? 1 : 0)
    this.options =
      key === undefined && signal === undefined
        ? undefined
        : {
            ...host.callOptions[this.index]!,
            ...(key === undefined ? {} : { key: key as string | Uint8Array }),
            ...(signal === undefined ? {} : { signal: signal as AbortSignal }),
          }
  }

  start(): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      const { port } = this.host
      let options = this.host.resolvedCalls[this.index]!
      if (this.options !== undefined) {
        try {
          options = port.resolveCall(this.options)
        } catch (error) {
          this.rejected(error)
          return
        }
      }
      // A driven call: keel adds no promise or async frame of its own per request.
      port.drive(this, options)
    })
  }

  /** The call resolved with the last attempt's response (`AdapterCall.resolved`). */
  resolved(value: unknown): void {
    this.#answer(value as Response)
  }

  /** The call failed: the caller gets the last attempt's own error (`AdapterCall.rejected`). */
  rejected(error: unknown): void {
    if (this.#delivered) return
    this.body?.release(error)
    this.#fail(lastAttemptError(error))
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

  /** One attempt (`AdapterCall.attempt`): a fetch from `endpoint` through an `AttemptDispatcher`. */
  attempt(endpoint: Endpoint<unknown>, attempt: Attempt): void {
    const { host } = this
    const control = host.port.control(attempt)!
    // A hedge launched while an earlier attempt's response is with the caller: send nothing.
    if (this.#delivered) {
      control.fail(new AttemptLost(control))
      return
    }
    if (!host.dispatchers.needs(endpoint)) {
      this.#send(endpoint, attempt, control, this.target)
      return
    }
    Promise.resolve(host.dispatchers.get(endpoint)).then(
      (target) => this.#send(endpoint, attempt, control, target),
      (error: unknown) => control.fail(error),
    )
  }

  #send(endpoint: Endpoint<unknown>, attempt: Attempt, control: AttemptControl, target: unknown): void {
    const { host } = this
    // The first attempt sends keel's own copy of the init; later ones (retries, hedges) a copy of
    // it, so an attempt whose fetch reads its init late never sees another attempt's dispatcher.
    const init: Record<string, unknown> = attempt.number === 1 ? this.init : { ...this.init }
    if (this.body !== undefined) init.body = this.body.stream()
    const dispatcher = new AttemptDispatcher(target as DispatchTarget | undefined, host.timeouts)
    dispatcher.holdWhole = this.idempotent && this.body === undefined && attempt.number <= host.policies.retries
    init.dispatcher = dispatcher
    // keel's cancellations (deadline, attempt timeout, drain, close) reach the exchange through
    // the dispatcher; the caller's own signal goes to fetch as given.
    if (control.cancelled) {
      control.fail(control.cancelReason)
      return
    }
    control.canceller = dispatcher
    let sent: Promise<Response>
    try {
      sent = host.fetch()(httpUrl(endpoint, this.path), init as RequestInit)
    } catch (error) {
      this.#notSent(control, error)
      return
    }
    sent.then(
      (res) => this.#received(res, attempt, control, dispatcher),
      (error: unknown) => this.#notSent(control, error),
    )
  }

  #notSent(control: AttemptControl, error: unknown): void {
    // A body read once and already sent cannot be sent again.
    if (this.body?.spent) control.handOver()
    control.fail(error)
  }

  #received(res: Response, attempt: Attempt, control: AttemptControl, dispatcher: AttemptDispatcher): void {
    const { host } = this
    this.body?.sent()
    if (control.cancelled) {
      control.succeed(res)
      return
    }
    if (this.#delivered) {
      // Another attempt of this call (a hedge) already answered the caller: this one lost.
      void res.body?.cancel().catch(() => {})
      control.fail(new AttemptLost(control))
      return
    }
    // Classified once: keel takes this result for the attempt (`AttemptControl.classified`).
    const result = host.classifier.value(res)
    control.classified(result)
    if (
      this.body === undefined &&
      attempt.number <= host.policies.retries &&
      mayRetryResponse(result, this.idempotent)
    ) {
      control.succeed(res)
      return
    }
    this.#deliver(res, dispatcher, control)
  }

  /**
   * Hands `res` to the caller; the attempt stays in flight until its body has ended. Nothing of
   * keel's keeps `res` reachable meanwhile, or a response dropped unread is never collected,
   * undici never cancels its stream, and the attempt and its socket stay busy forever.
   */
  #deliver(res: Response, dispatcher: AttemptDispatcher, control: AttemptControl): void {
    // The caller has the response: keel never retries this attempt, whatever happens to its body.
    control.handOver()
    if (dispatcher.dispatched || res.body === null) {
      this.#answer(res)
      dispatcher.handOver(control, WITH_CALLER)
      return
    }
    // A fetch that ignores `dispatcher` (not built on undici): watch the body stream instead.
    dispatcher.handedOver = true
    const tracked = trackBody(res, res.body)
    this.#answer(tracked.response)
    tracked.ended.then(
      () => reportBodyEnd(control, WITH_CALLER, undefined),
      (error: unknown) => reportBodyEnd(control, WITH_CALLER, error),
    )
  }
}
