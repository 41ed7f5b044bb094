import { Readable } from 'node:stream'
import type { AxiosAdapter, InternalAxiosRequestConfig } from 'axios'
import type { Balancer } from '../../balancer.ts'
import type { AdapterPort, OutcomeClassify } from '../../core/ports.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import type { CallOptions } from '../../options/options.ts'
import type { OnceBody } from '../http/once-body.ts'
import type { RetryPolicies } from '../http/retry-policy.ts'
import { hostHeader, httpUrl } from '../http/target.ts'
import type { AttemptSignal } from './attempt-signal.ts'
import type { EndpointAgents } from './endpoint-agents.ts'

/** What a balanced axios request needs from its `axiosAdapter`. */
export interface AxiosHost {
  readonly balancer: Balancer<unknown>
  readonly port: AdapterPort
  readonly classifier: OutcomeClassify
  readonly policies: RetryPolicies
  /** Call options by `(once ? 2 : 0) + (idempotent ? 1 : 0)`. */
  readonly callOptions: readonly CallOptions[]
  readonly agents: EndpointAgents
  /** ms of socket inactivity that fail an attempt whose request sets no `timeout` (0: none). */
  readonly idleTimeout: number
  /** axios' own node:http adapter, which sends each attempt. */
  readonly http: AxiosAdapter
  /** A copy of request headers an attempt can change (axios' `AxiosHeaders`). */
  copyHeaders(headers: InternalAxiosRequestConfig['headers']): InternalAxiosRequestConfig['headers']
}

/** The request an attempt sends. */
export interface AttemptSource {
  readonly config: InternalAxiosRequestConfig
  /** The path and query joined onto the endpoint (`requestPath`). */
  readonly path: string
  /** A body that can be read once, replayed by keel; undefined for any other body. */
  readonly body: OnceBody | undefined
}

/**
 * A shallow copy of axios' config: its own enumerable string keys, all that axios' http adapter
 * reads. axios hands adapters a null-prototype object, which V8 keeps as a dictionary; a spread of
 * one costs about 2 µs, this loop a quarter of that (docs/benchmarks.md, "Adapter cost").
 */
function copyConfig(config: InternalAxiosRequestConfig): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  const source = config as unknown as Record<string, unknown>
  const keys = Object.keys(source)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    // An own `__proto__` key (axios itself drops it) would set the copy's prototype: not copied.
    if (key !== '__proto__') copy[key] = source[key]
  }
  return copy
}

/** The content headers of a `form-data` package body, which axios reads from the body itself. */
const FORM_CONTENT_HEADERS = new Set(['content-type', 'content-length'])

/**
 * The config of one attempt: the request's own, sent to `endpoint` and ended by keel's `signal`
 * (an `AttemptSignal`; keel's cancellation carries the caller's signal and cancelToken too). The
 * endpoint's agent is used unless the request brings its own; environment proxies are not (keel dials endpoints directly) unless the
 * request sets `proxy`; an endpoint's servername becomes the `Host` header unless one is set.
 */
export function attemptConfig(
  host: AxiosHost,
  source: AttemptSource,
  endpoint: EndpointInfo,
  signal: AttemptSignal,
): InternalAxiosRequestConfig {
  const { config, body } = source
  const url = httpUrl(endpoint, source.path)
  const copy = copyConfig(config)
  copy.url = url
  copy.signal = signal
  // Set to undefined, not deleted: a `delete` would turn the copy into a dictionary-mode object.
  copy.baseURL = undefined
  copy.cancelToken = undefined
  const next = copy as unknown as InternalAxiosRequestConfig
  if (config.proxy === undefined) next.proxy = false
  const https = url.startsWith('https:')
  const own = https ? config.httpsAgent : config.httpAgent
  if (own === undefined) {
    if (https) next.httpsAgent = host.agents.get(endpoint)
    else next.httpAgent = host.agents.get(endpoint)
  }
  // A request that sets no `timeout` gets the adapter's idle limit, so a hung replica cannot hold
  // it forever: on keel's agents their sweep keeps it (`idle-sweep.ts`), on the request's own
  // agent axios' `timeout` does.
  if (own !== undefined && !config.timeout && host.idleTimeout > 0) next.timeout = host.idleTimeout
  const name = hostHeader(endpoint)
  // With the caller's own agent, node:http also takes the TLS servername from this Host header.
  if (name !== undefined && !config.headers.has('host')) {
    next.headers = host.copyHeaders(config.headers)
    next.headers.set('Host', name)
  }
  if (body !== undefined) {
    const data = config.data as { getHeaders?: () => Record<string, unknown> }
    if (typeof data.getHeaders === 'function') {
      // keel sends the replay stream, not the form itself: carry its boundary header over, as
      // axios would (lib/core/setFormDataHeaders.js, `formDataHeaderPolicy`).
      if (next.headers === config.headers) next.headers = host.copyHeaders(config.headers)
      for (const [key, value] of Object.entries(data.getHeaders())) {
        if (config.formDataHeaderPolicy !== 'content-only' || FORM_CONTENT_HEADERS.has(key.toLowerCase()))
          next.headers.set(key, value as string)
      }
    }
    next.data = Readable.fromWeb(body.stream() as never)
  }
  return next
}
