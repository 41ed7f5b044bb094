import type { Attempt } from '../../attempt.ts'
import type { Balancer } from '../../balancer.ts'
import type { OutcomeClassifier } from '../../classify.ts'
import type { Endpoint } from '../../endpoint.ts'
import { isKeelError } from '../../errors.ts'
import type { CallOptions } from '../../options.ts'
import { isOnceBody } from '../http/body-kind.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { markFinal, mayRetryResponse, type RetryPolicies } from '../http/retry-policy.ts'
import { httpUrl } from '../http/target.ts'
import type { EndpointDispatchers } from './endpoint-dispatchers.ts'
import { OnceBody } from './once-body.ts'
import { trackBody } from './tracked-body.ts'

/** A fetch-compatible function. */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>

/** What a balanced fetch call needs from its `createFetch`. */
export interface FetchHost {
  readonly balancer: Balancer<unknown>
  readonly classifier: OutcomeClassifier
  readonly policies: RetryPolicies
  readonly dispatchers: EndpointDispatchers
  fetch(): FetchFunction
}

/**
 * One call of a balanced fetch: a `balancer.call` whose attempts each fetch from the picked
 * endpoint. A response keel could retry is returned to keel (discarded if it retries, so the
 * socket is reused); any other is handed to the caller at once, with its body tracked so the
 * attempt stays in flight until the body ends — and keel never retries after that.
 */
export class FetchRun {
  readonly host: FetchHost
  readonly path: string
  readonly init: Record<string, unknown>
  readonly options: CallOptions
  readonly idempotent: boolean
  readonly body: OnceBody | undefined
  #delivered = false
  #resolve!: (response: Response) => void

  constructor(host: FetchHost, path: string, init: Record<string, unknown>, options: { key?: string | Uint8Array }) {
    this.host = host
    this.path = path
    const { body, signal, key: _key, idempotent: explicit, ...rest } = init
    const method = typeof rest.method === 'string' ? rest.method.toUpperCase() : 'GET'
    this.idempotent = isIdempotentRequest(method, explicit as boolean | undefined, rest.headers)
    const once = isOnceBody(body)
    this.body = once ? new OnceBody(body as ReadableStream) : undefined
    this.init = once ? { ...rest, duplex: 'half' } : body === undefined ? rest : { ...rest, body }
    const retry = once ? host.policies.once : host.policies.replayable
    this.options = {
      idempotent: this.idempotent,
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(signal === undefined || signal === null ? {} : { signal: signal as AbortSignal }),
      ...(retry === undefined ? {} : { retry }),
    }
  }

  start(): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve
      this.host.balancer.call(this.attempt, this.options).then(
        (response) => {
          if (this.#delivered) return
          this.#delivered = true
          resolve(response)
        },
        (error: unknown) => {
          if (this.#delivered) return
          this.#delivered = true
          this.body?.release(error)
          // Adapters never wrap (DESIGN §2.2): the caller sees the last attempt's own error.
          reject(isKeelError(error) && error.code === 'KEEL_RETRIES_EXHAUSTED' ? (error.cause ?? error) : error)
        },
      )
    })
  }

  readonly attempt = async (endpoint: Endpoint<unknown>, attempt: Attempt): Promise<Response> => {
    const { host } = this
    const init: Record<string, unknown> = { ...this.init, signal: attempt.signal }
    if (this.body !== undefined) init.body = this.body.stream()
    if (host.dispatchers.needs(endpoint)) init.dispatcher = await host.dispatchers.get(endpoint)
    let res: Response
    try {
      res = await host.fetch()(httpUrl(endpoint, this.path), init as RequestInit)
    } catch (error) {
      if (this.body?.spent) markFinal(error)
      throw error
    }
    this.body?.sent()
    if (this.#delivered || attempt.signal.aborted) return res
    if (
      this.body === undefined &&
      attempt.number <= host.policies.retries &&
      mayRetryResponse(host.classifier.value(res), this.idempotent)
    ) {
      return res
    }
    return this.#deliver(res, attempt)
  }

  async #deliver(res: Response, attempt: Attempt): Promise<Response> {
    this.#delivered = true
    const body = res.body
    if (body === null) {
      this.#resolve(markFinal(res))
      return res
    }
    const { response, ended } = trackBody(res, body)
    markFinal(response)
    // keel cancelling the attempt now (deadline, attempt timeout, drain) ends the caller's body
    // too: mark its reason so keel does not retry a request the caller already holds.
    const signal = attempt.signal
    const onAbort = () => markFinal(signal.reason)
    signal.addEventListener('abort', onAbort)
    this.#resolve(response)
    try {
      await ended
    } catch (error) {
      throw markFinal(error)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    return response
  }
}
