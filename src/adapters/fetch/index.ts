/**
 * Entry point `keel/fetch`: a fetch-compatible function that balances every request.
 *
 * @module keel/fetch
 */
import { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import { checkFunction, isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { usageError } from '../../model/errors.ts'
import { MissingPeerError } from '../http/optional-peer.ts'
import { callOptionsTable, retryPolicies } from '../http/retry-policy.ts'
import { parseServiceUrl, pathUnder, SCHEME, type ServiceUrl } from '../http/service-url.ts'
import { idleTimeouts } from '../http/timeouts.ts'
import { EndpointDispatchers, type FetchConnectOptions } from './endpoint-dispatchers.ts'
import { type FetchFunction, type FetchHost, FetchRun } from './fetch-run.ts'

export type { FetchConnectOptions } from './endpoint-dispatchers.ts'
export type { FetchFunction } from './fetch-run.ts'
export { MissingPeerError }

/** Options of `createFetch`. */
export interface CreateFetchOptions {
  /** The fetch to call for each attempt, e.g. undici's. @default globalThis.fetch */
  readonly fetch?: FetchFunction
  /**
   * The service's logical URL, e.g. `http://users.internal/api`: absolute URLs under it are sent
   * to the picked endpoint like relative ones (`http://users.internal/api/u/42` → `/u/42`).
   * @default undefined (only relative URLs are accepted)
   */
  readonly serviceUrl?: string | URL
  /**
   * TLS and socket options for the connections to every endpoint (`ca`, `cert`, `key`,
   * `rejectUnauthorized`, `timeout`, …). With them, or with an endpoint `servername`, each
   * endpoint gets its own undici Pool (the undici package must be installed).
   * @default undefined
   */
  readonly connect?: FetchConnectOptions
  /**
   * ms an attempt waits for the response head before it counts as lost (an `endpoint-failure`,
   * retried elsewhere when idempotent); 0 for no limit (long polls).
   * @default 15_000
   */
  readonly headersTimeout?: number
  /**
   * ms the body may stay silent between two chunks before the exchange fails; 0 for no limit
   * (event streams that idle longer). A download that keeps sending is never cut.
   * @default 15_000
   */
  readonly bodyTimeout?: number
}

/** `RequestInit` plus keel's per-request options. */
export interface BalancedRequestInit extends RequestInit {
  /** Routes the request by this key with a hash picker (`ring-hash`, `maglev`). @default undefined */
  readonly key?: string | Uint8Array
  /**
   * The request may be sent more than once. @default true for GET, HEAD, OPTIONS, PUT, DELETE and
   * TRACE, or when an `Idempotency-Key` header is set; false otherwise
   */
  readonly idempotent?: boolean
}

/** A `fetch` that balances over a keel Balancer. */
export type BalancedFetch = (input: string | URL | Request, init?: BalancedRequestInit) => Promise<Response>

const NO_INIT: Record<string, unknown> = Object.freeze({})

const OPTION_KEYS = ['fetch', 'serviceUrl', 'connect', 'headersTimeout', 'bodyTimeout'] as const

/** The path to join onto the picked endpoint, or a TypeError (what fetch rejects bad URLs with). */
function relativePath(url: string, service: ServiceUrl | undefined): string {
  // A path (the usual input) has no scheme: no regular expression run for it.
  if (url.charCodeAt(0) === 47 /* / */ || !SCHEME.test(url)) return url
  const path = service === undefined ? undefined : pathUnder(service, new URL(url))
  if (path !== undefined) return path
  throw usageError(
    'KEEL_URL_OUTSIDE_SERVICE',
    service === undefined
      ? `createFetch: ${url} is absolute; pass a path such as '/users/42', or set \`serviceUrl\``
      : `createFetch: ${url} is not under \`serviceUrl\` ${service.origin}${service.prefix}`,
  )
}

/** The init a `Request` carries, for fetch(request, init) with `init` taking precedence. */
function requestInit(request: Request): Record<string, unknown> {
  return {
    method: request.method,
    headers: request.headers,
    redirect: request.redirect,
    signal: request.signal,
    keepalive: request.keepalive,
    integrity: request.integrity,
    ...(request.body === null ? {} : { body: request.body }),
  }
}

function isRequest(value: unknown): value is Request {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Request'
  )
}

/**
 * Makes a `fetch` that balances over `balancer` (docs/fetch.md). A relative URL (`'/users/42'`), or
 * an absolute one under `serviceUrl`, is joined onto the picked endpoint, keeping its path prefix.
 * GET, HEAD, OPTIONS, PUT, DELETE and TRACE are idempotent; other methods need `idempotent: true`
 * or an `Idempotency-Key` header to be retried after an endpoint failure. A stream body is sent
 * once: it is retried only when the request provably never left (`not-sent`). The result is what
 * fetch gives: the last `Response` (a 404 or a 503 after the last retry included), or fetch's
 * own rejection. A response keel hands over counts as in flight until its body ends: read or
 * cancel every body.
 */
export function createFetch(balancer: Balancer<unknown>, options: CreateFetchOptions = {}): BalancedFetch {
  if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, OPTION_KEYS)
  const custom = checkFunction<FetchFunction>('fetch', options.fetch)
  const service = parseServiceUrl(options.serviceUrl)
  if (options.connect !== undefined && !isPlainObject(options.connect)) {
    throw typeError('connect', 'an object of TLS connect options', options.connect)
  }
  const timeouts = idleTimeouts(options)
  const port = adapterPort(balancer)
  const policies = retryPolicies(port.settings.retry)
  const callOptions = callOptionsTable(policies)
  const host: FetchHost = {
    balancer,
    port,
    classifier: port.classifier,
    policies,
    callOptions,
    resolvedCalls: callOptions.map((call) => port.resolveCall(call)),
    dispatchers: new EndpointDispatchers(balancer, port, options.connect),
    fetch: () => custom ?? globalThis.fetch,
    timeouts,
  }
  return (input, init) => {
    let run: FetchRun
    try {
      let url: string
      let merged: Record<string, unknown>
      if (isRequest(input)) {
        url = input.url
        merged = init === undefined ? requestInit(input) : { ...requestInit(input), ...init }
      } else {
        url = typeof input === 'string' ? input : input instanceof URL ? input.href : String(input)
        // Not copied: `FetchRun` only reads it (its own `init` is a copy without keel's keys).
        merged = init === undefined ? NO_INIT : (init as Record<string, unknown>)
      }
      run = new FetchRun(host, relativePath(url, service), merged)
    } catch (error) {
      return Promise.reject(error)
    }
    return run.start()
  }
}
