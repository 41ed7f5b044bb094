import { isKeelError } from '../model/errors.ts'
import { type Classification, VERDICTS, type Verdict } from '../model/verdict.ts'
import type { Classifier, ClassifyOption, Outcome } from './classifier.ts'
import { parseRetryAfter } from './retry-after.ts'

/** A classification result: a bare verdict, or a verdict with a delay / refusal attached. */
export type ClassifyResult = Verdict | Classification

export { parseRetryAfter }

/**
 * Network error codes that prove the request never left: the connection was never established,
 * the name never resolved, or TLS failed before any byte of the request was written.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
])

/** Syscalls whose failure happens before a request can be written. */
const NOT_SENT_SYSCALLS = new Set(['connect', 'getaddrinfo', 'queryA', 'queryAaaa', 'querySrv'])

/** Codes that mean the exchange failed after it started: the endpoint's fault. */
const ENDPOINT_FAILURE_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_DESTROYED',
  'UND_ERR_INFO',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'UND_ERR_HEADERS_OVERFLOW',
  'ERR_STREAM_PREMATURE_CLOSE',
])

/**
 * The endpoint answered something that is not HTTP: garbage bytes, an invalid status line, a
 * negative Content-Length, an oversized header. Every client reports it differently — undici an
 * `HTTPParserError` (no `code` in Node's bundled copy, so fetch's `TypeError('fetch failed')`
 * wraps a bare name), Node's http parser (axios) an `HPE_*` code, undici `UND_ERR_HEADERS_OVERFLOW`
 * — and all of them are one fact: the replica is broken, whichever adapter asked.
 */
function isProtocolError(name: unknown, code: unknown): boolean {
  return name === 'HTTPParserError' || (typeof code === 'string' && code.startsWith('HPE_'))
}

const CANCEL_CODES = new Set(['ABORT_ERR', 'UND_ERR_ABORTED', 'ERR_CANCELED'])

/** The request itself was invalid (undici rejects a bad header or body before sending). */
const CALLER_ERROR_CODES = new Set([
  'ERR_INVALID_URL',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'UND_ERR_INVALID_ARG',
])

/** grpc-js status codes (`@grpc/grpc-js` `status`), mapped per docs/classification.md. */
const GRPC_VERDICTS: readonly Verdict[] = [
  'success', // 0 OK
  'cancelled', // 1 CANCELLED
  'endpoint-failure', // 2 UNKNOWN
  'caller-error', // 3 INVALID_ARGUMENT
  'endpoint-failure', // 4 DEADLINE_EXCEEDED
  'caller-error', // 5 NOT_FOUND
  'caller-error', // 6 ALREADY_EXISTS
  'caller-error', // 7 PERMISSION_DENIED
  'overloaded', // 8 RESOURCE_EXHAUSTED
  'caller-error', // 9 FAILED_PRECONDITION
  'caller-error', // 10 ABORTED: an application-level conflict, not the endpoint's health
  'caller-error', // 11 OUT_OF_RANGE
  'caller-error', // 12 UNIMPLEMENTED: see docs/classification.md
  'endpoint-failure', // 13 INTERNAL
  'endpoint-failure', // 14 UNAVAILABLE
  'endpoint-failure', // 15 DATA_LOSS
  'caller-error', // 16 UNAUTHENTICATED
]
const GRPC_RESOURCE_EXHAUSTED = 8

const MAX_CAUSE_DEPTH = 8

/**
 * The verdict an adapter attaches to an error it passes on when it knows more than the error
 * says: the gRPC adapter proves `not-sent` from the channel's connectivity state, which a
 * grpc-js `ServiceError` cannot carry. keel's rules read it first, at every depth of `cause`; a
 * user's `classify` still runs before them and sees the error unchanged. `Symbol.for`, so
 * adapters from either build (ESM or CJS) set the same key.
 */
export const VERDICT_HINT = Symbol.for('keel.verdict')

type HeaderSource = { get(name: string): unknown } | Record<string, unknown> | undefined | null

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers === undefined || headers === null || typeof headers !== 'object') return undefined
  let value: unknown
  if (typeof (headers as { get?: unknown }).get === 'function') {
    value = (headers as { get(n: string): unknown }).get(name)
  } else {
    const record = headers as Record<string, unknown>
    value = record[name]
    if (value === undefined) {
      // Plain header objects are not always lowercased (`{ 'Retry-After': '2' }`).
      for (const key of Object.keys(record)) {
        if (key.toLowerCase() === name) {
          value = record[key]
          break
        }
      }
    }
  }
  if (Array.isArray(value)) value = value[0]
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined
}

/** The verdict for an HTTP status (docs/classification.md), with Retry-After read from `headers`. */
export function classifyStatus(status: number, headers: HeaderSource, wallNow: () => number): ClassifyResult {
  if (status < 400) return 'success'
  if (status === 429) {
    return {
      verdict: 'overloaded',
      retryAfterMs: parseRetryAfter(header(headers, 'retry-after'), wallNow) ?? 0,
      refused: true,
    }
  }
  if (status === 503) {
    const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), wallNow)
    return retryAfterMs === undefined ? 'endpoint-failure' : { verdict: 'overloaded', retryAfterMs, refused: false }
  }
  // 501 Not Implemented and 505 HTTP Version Not Supported describe the request, not the endpoint.
  if (status === 501 || status === 505) return 'caller-error'
  if (status >= 500) return 'endpoint-failure'
  return 'caller-error'
}

function isFetchResponse(value: object): value is Response {
  return (
    (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Response' &&
    typeof (value as Response).status === 'number'
  )
}

interface UndiciResponseData {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  body: { dump(options?: unknown): Promise<void> }
}

function isUndiciResponseData(value: object): value is UndiciResponseData {
  const v = value as Partial<UndiciResponseData> & { trailers?: unknown }
  return typeof v.statusCode === 'number' && 'trailers' in v && typeof v.body?.dump === 'function'
}

function grpcResult(code: number, metadata: unknown): ClassifyResult {
  if (code === GRPC_RESOURCE_EXHAUSTED) {
    let retryAfterMs = 0
    const get = (metadata as { get?: (key: string) => unknown[] } | undefined)?.get
    if (typeof get === 'function') {
      const pushback = get.call(metadata, 'grpc-retry-pushback-ms')[0]
      const ms = typeof pushback === 'string' && /^\d+$/.test(pushback) ? Number(pushback) : undefined
      if (ms !== undefined) retryAfterMs = ms
    }
    return { verdict: 'overloaded', retryAfterMs, refused: true }
  }
  return GRPC_VERDICTS[code] ?? 'endpoint-failure'
}

function statusOf(error: Record<string, unknown>): { status: number; headers: HeaderSource } | undefined {
  const response = error.response as Record<string, unknown> | undefined
  const candidates: [unknown, HeaderSource][] = [
    [error.status, error.headers as HeaderSource],
    [error.statusCode, error.headers as HeaderSource],
  ]
  if (typeof response === 'object' && response !== null) {
    candidates.push(
      [response.status, response.headers as HeaderSource],
      [response.statusCode, response.headers as HeaderSource],
    )
  }
  for (const [status, headers] of candidates) {
    if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599)
      return { status, headers }
  }
  return undefined
}

/**
 * keel's rules for a thrown value (docs/classification.md), walking `cause` because fetch wraps network
 * errors in `TypeError('fetch failed', { cause })` and axios keeps the original in `cause`.
 */
export function classifyError(error: unknown, wallNow: () => number): ClassifyResult {
  let current: unknown = error
  let programmingError = false
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const e = current as Record<string, unknown>
    const hint = (current as Record<symbol, unknown>)[VERDICT_HINT]
    if (typeof hint === 'string' && (VERDICTS as readonly string[]).includes(hint)) return hint as Verdict
    const name = e.name
    const code = e.code
    if (name === 'AbortError') return 'cancelled'
    if (name === 'TimeoutError') return 'endpoint-failure'
    if (isKeelError(current)) {
      // A keel error from a nested balancer: its own deadline or no endpoint says nothing of ours.
      return code === 'KEEL_ATTEMPT_TIMEOUT' || code === 'KEEL_DEADLINE_EXCEEDED' ? 'endpoint-failure' : 'caller-error'
    }
    // grpc-js ServiceError: numeric code plus metadata.
    if (typeof code === 'number' && 'metadata' in e && 'details' in e) return grpcResult(code, e.metadata)
    // axios: a response means the exchange completed; classify its status.
    if (e.isAxiosError === true) {
      const response = e.response as { status?: unknown; headers?: HeaderSource } | undefined
      // A 2xx or 3xx head with an error means the body failed (a reset or a timeout mid-body,
      // `stream has been aborted`): the exchange failed, whatever the status said.
      if (response && typeof response.status === 'number' && response.status >= 400)
        return classifyStatus(response.status, response.headers, wallNow)
    }
    if (isProtocolError(name, code)) return 'endpoint-failure'
    if (typeof code === 'string') {
      if (NOT_SENT_CODES.has(code)) return 'not-sent'
      if (CANCEL_CODES.has(code)) return 'cancelled'
      if (code === 'ETIMEDOUT' && NOT_SENT_SYSCALLS.has(e.syscall as string)) return 'not-sent'
      if (ENDPOINT_FAILURE_CODES.has(code)) return 'endpoint-failure'
      if (NOT_SENT_SYSCALLS.has(e.syscall as string)) return 'not-sent'
      if (CALLER_ERROR_CODES.has(code)) return 'caller-error'
    }
    // HTTP errors thrown by user code or other clients (`throw new HttpError(res.status)`).
    const http = statusOf(e)
    // Only an error status decides a thrown error; a thrown 2xx is a failed exchange (below).
    if (http !== undefined && http.status >= 400) return classifyStatus(http.status, http.headers, wallNow)
    if (
      depth === 0 &&
      (current instanceof TypeError || current instanceof ReferenceError || current instanceof SyntaxError)
    ) {
      programmingError = true
    }
    current = e.cause
  }
  // A bug in `fn` (TypeError, ReferenceError, SyntaxError with no network cause) says nothing
  // about the endpoint: never eject or retry over it. Anything else unknown counts against it.
  return programmingError ? 'caller-error' : 'endpoint-failure'
}

/** keel's rules for a returned value: only real responses have a status; anything else succeeded. */
export function classifyValue(value: unknown, wallNow: () => number): ClassifyResult {
  if (typeof value !== 'object' || value === null) return 'success'
  if (isFetchResponse(value)) return classifyStatus(value.status, value.headers, wallNow)
  if (isUndiciResponseData(value)) return classifyStatus(value.statusCode, value.headers, wallNow)
  return 'success'
}

/** Bytes of an unwanted body read before giving up on reusing its connection. */
const DISCARD_READ_LIMIT = 64 * 1024

async function drainBody(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader()
  let read = 0
  try {
    while (read <= DISCARD_READ_LIMIT) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
    await reader.cancel()
  } catch {
    // The body failed or was cancelled: nothing more to release.
  }
}

/**
 * Releases a response keel will not hand back. Reading a short body to its end (rather than
 * cancelling it) lets undici return the socket to its pool; past 64 KiB the body is cancelled.
 */
export function discardValue(value: unknown): void {
  if (typeof value !== 'object' || value === null) return
  if (isFetchResponse(value)) {
    if (value.body !== null && !value.bodyUsed) void drainBody(value.body)
    return
  }
  if (isUndiciResponseData(value)) {
    value.body.dump({ limit: DISCARD_READ_LIMIT }).catch(() => {})
  }
}

/** The balancer's classifier: the user's `classify` first, keel's rules when it says nothing. */
export class OutcomeClassifier {
  readonly #custom: Classifier | undefined
  readonly #wallNow: () => number
  readonly #onInvalid: ((result: unknown) => void) | undefined

  constructor(option: ClassifyOption | undefined, wallNow: () => number, onInvalid?: (result: unknown) => void) {
    this.#custom = typeof option === 'function' ? { classify: option } : option
    this.#wallNow = wallNow
    this.#onInvalid = onInvalid
  }

  /** @param known the adapter's verdict (`AttemptControl.knownVerdict`): keel's rules take it as is */
  value(value: unknown, known?: Verdict): ClassifyResult {
    const custom = this.#custom
    if (custom !== undefined) {
      const result = this.#ask(custom, { ok: true, value })
      if (result !== undefined) return result
    }
    return known ?? classifyValue(value, this.#wallNow)
  }

  /** @param known the adapter's verdict (`AttemptControl.knownVerdict`): keel's rules take it as is */
  error(error: unknown, known?: Verdict): ClassifyResult {
    const custom = this.#custom
    if (custom !== undefined) {
      const result = this.#ask(custom, { ok: false, error })
      if (result !== undefined) return result
    }
    return known ?? classifyError(error, this.#wallNow)
  }

  /**
   * The user's classifier may throw: the attempt must still end, so keel's rules decide and the
   * error is rethrown on a microtask, where it surfaces like a listener's.
   */
  #ask(custom: Classifier, outcome: Outcome): ClassifyResult | undefined {
    let result: unknown
    try {
      result = custom.classify(outcome)
    } catch (error) {
      queueMicrotask(() => {
        throw error
      })
      return undefined
    }
    if (result === undefined || result === null) return undefined
    const verdict = typeof result === 'string' ? result : (result as { verdict?: unknown }).verdict
    if ((VERDICTS as readonly unknown[]).includes(verdict)) return result as ClassifyResult
    // Not a verdict: keel's rules decide, and the user learns why.
    this.#onInvalid?.(result)
    return undefined
  }

  discard(value: unknown): void {
    try {
      if (this.#custom?.discard !== undefined) this.#custom.discard(value)
      else discardValue(value)
    } catch (error) {
      queueMicrotask(() => {
        throw error
      })
    }
  }
}
