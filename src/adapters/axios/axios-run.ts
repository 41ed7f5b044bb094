import { PassThrough, Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios'
import type { AttemptControl } from '../../core/ports.ts'
import type { Attempt } from '../../model/attempt.ts'
import type { Endpoint } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import { isOnceBody } from '../http/body-kind.ts'
import { AttemptLost, HandedOver } from '../http/handed-over.ts'
import { isIdempotentRequest } from '../http/idempotency.ts'
import { lastAttemptError } from '../http/last-error.ts'
import { OnceBody } from '../http/once-body.ts'
import { mayRetryResponse } from '../http/retry-policy.ts'
import { type AxiosHost, attemptConfig } from './attempt-config.ts'
import { AttemptSignal } from './attempt-signal.ts'
import { callerSignal } from './caller-signal.ts'
import type { KeelRequestOptions } from './keel-options.ts'

/** keel's stand-in for an axios response: classified by status, and the way back to the response. */
class AxiosHandedOver extends HandedOver {
  readonly response: AxiosResponse

  constructor(response: AxiosResponse, url: string) {
    super({ status: response.status, statusText: response.statusText, headers: response.headers as never, url })
    this.response = response
  }
}

/** Bytes of an unwanted response stream read (so its socket is reused) before it is destroyed. */
const DISCARD_READ_LIMIT = 64 * 1024

/**
 * A once-only body as something OnceBody can read: Node streams and iterables are; an old-style
 * stream (the `form-data` package's CombinedStream: `pipe` but no async iterator, and it starts
 * only when piped) is piped into one.
 */
function readableSource(data: unknown): AsyncIterable<unknown> | Iterable<unknown> {
  const d = data as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown }
  if (typeof d[Symbol.asyncIterator] === 'function' || typeof d[Symbol.iterator] === 'function') {
    return data as AsyncIterable<unknown>
  }
  const old = data as NodeJS.ReadableStream
  const through = new PassThrough()
  old.on('error', (error: Error) => through.destroy(error))
  return old.pipe(through)
}

function responseOf(value: unknown): AxiosResponse {
  return (value as AxiosHandedOver).response
}

/** A caller's abort rejects with the signal's reason; axios turns it into its CanceledError. */
function rejectWithLast(error: unknown): never {
  throw lastAttemptError(error)
}

function isReadable(value: unknown): value is Readable {
  return value instanceof Readable
}

/** Releases a response stream keel will not hand over: a short rest is read, a long one cut. */
function discard(stream: Readable): void {
  if (stream.destroyed || stream.readableEnded) return
  let read = 0
  stream.on('data', (chunk: { length: number }) => {
    read += chunk.length
    if (read > DISCARD_READ_LIMIT) stream.destroy()
  })
  stream.on('error', () => {})
  stream.resume()
}

/**
 * One balanced axios request: a `balancer.call` whose attempts each run axios' own http adapter
 * against the picked endpoint. The caller gets what axios would give for the last attempt: its
 * response, or its `AxiosError`, never a keel wrapper. A `responseType: 'stream'` response keel
 * will not retry is handed over at once, and its attempt stays in flight until the stream ends.
 */
export class AxiosRun {
  readonly host: AxiosHost
  readonly config: InternalAxiosRequestConfig
  readonly path: string
  readonly options: CallOptions
  readonly idempotent: boolean
  readonly body: OnceBody | undefined
  /**
   * Response streams of ended attempts keel may retry: released when another attempt starts or the
   * call settles, unless the caller gets one. Made on first use: most calls hold none.
   */
  #held: Readable[] | undefined = undefined
  #release: (() => void) | undefined
  #delivered = false
  #resolve!: (response: AxiosResponse) => void

  constructor(host: AxiosHost, config: InternalAxiosRequestConfig, path: string, keel: KeelRequestOptions) {
    this.host = host
    this.config = config
    this.path = path
    const method = typeof config.method === 'string' ? config.method.toUpperCase() : 'GET'
    this.idempotent = isIdempotentRequest(method, keel.idempotent, config.headers)
    const once = isOnceBody(config.data)
    this.body = once ? new OnceBody(readableSource(config.data)) : undefined
    const caller = callerSignal(config)
    this.#release = caller?.release
    let options = host.callOptions[(once ? 2 : 0) + (this.idempotent ? 1 : 0)]!
    if (keel.key !== undefined || caller !== undefined) {
      options = {
        ...options,
        ...(keel.key === undefined ? {} : { key: keel.key }),
        ...(caller === undefined ? {} : { signal: caller.signal }),
      }
    }
    this.options = options
  }

  start(): Promise<AxiosResponse> {
    // Nothing to release and no response stream to hand over early: the call's own promise,
    // mapped without a closure (a buffered response never ends up held, so none is left to discard).
    if (this.#release === undefined && this.body === undefined && this.config.responseType !== 'stream') {
      return this.host.balancer.call(this.attempt, this.options).then(responseOf, rejectWithLast)
    }
    return new Promise<AxiosResponse>((resolve, reject) => {
      this.#resolve = resolve
      this.host.balancer.call(this.attempt, this.options).then(
        (value) => {
          const response = (value as AxiosHandedOver).response
          this.#settled(response.data)
          if (this.#delivered) return
          this.#delivered = true
          resolve(response)
        },
        (error: unknown) => {
          // A caller's abort rejects with the signal's reason; axios turns it into its CanceledError.
          const last = lastAttemptError(error)
          this.#settled((last as { response?: { data?: unknown } } | undefined)?.response?.data)
          if (this.#delivered) return
          this.#delivered = true
          this.body?.release(last)
          reject(last)
        },
      )
    })
  }

  readonly attempt = async (endpoint: Endpoint<unknown>, attempt: Attempt): Promise<AxiosHandedOver> => {
    const control = this.host.port.control(attempt)!
    // A hedge launched while an earlier attempt's response stream is with the caller: send nothing.
    if (this.#delivered) throw new AttemptLost(control)
    // Held streams are those of ended attempts: one starting after them means keel moved on.
    this.#discardHeld(undefined)
    const config = attemptConfig(this.host, this, endpoint, new AttemptSignal(control))
    let response: AxiosResponse
    try {
      response = await this.host.http(config)
    } catch (error) {
      throw this.#failed(error, config, control)
    }
    this.body?.sent()
    response.config = this.config
    const handed = new AxiosHandedOver(response, config.url!)
    const data = response.data
    if (!isReadable(data)) return handed
    if (control.cancelled || this.#delivered) {
      discard(data)
      throw new AttemptLost(control)
    }
    // Classified once: keel takes this result for the attempt (`AttemptControl.classified`).
    const result = this.host.classifier.value(handed)
    control.classified(result)
    if (
      this.body === undefined &&
      attempt.number <= this.host.policies.retries &&
      mayRetryResponse(result, this.idempotent)
    ) {
      ;(this.#held ??= []).push(data)
      return handed
    }
    return this.#deliver(handed, data, control)
  }

  /** An attempt's error, as the caller would see it: with the request's own config. */
  #failed(error: unknown, config: InternalAxiosRequestConfig, control: AttemptControl): unknown {
    if (typeof error !== 'object' || error === null) return error
    const e = error as { config?: unknown; response?: AxiosResponse }
    if (e.config === config) e.config = this.config
    const response = e.response
    if (response !== undefined) {
      this.body?.sent()
      if (response.config === config) response.config = this.config
      if (isReadable(response.data)) (this.#held ??= []).push(response.data)
    } else if (this.body?.spent) {
      // A body read once and already sent cannot be sent again.
      control.handOver()
    }
    return error
  }

  /** Hands a response stream over now; its attempt ends with the stream (docs/axios.md). */
  async #deliver(handed: AxiosHandedOver, data: Readable, control: AttemptControl): Promise<AxiosHandedOver> {
    this.#delivered = true
    // The caller has the response: keel never retries this attempt, whatever happens to its stream.
    control.handOver()
    this.#resolve(handed.response)
    try {
      await finished(data)
    } catch (error) {
      // A stream the caller destroyed ended by the caller's choice, not the endpoint's fault.
      throw data.errored === null ? new DOMException('The caller destroyed the response stream', 'AbortError') : error
    }
    return handed
  }

  /** The call settled with `kept` (a response stream, or nothing): release the rest. */
  #settled(kept: unknown): void {
    this.#release?.()
    this.#discardHeld(kept)
  }

  #discardHeld(kept: unknown): void {
    const held = this.#held
    if (held === undefined || held.length === 0) return
    for (const stream of held) if (stream !== kept) discard(stream)
    held.length = 0
  }
}
