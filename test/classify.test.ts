import { describe, expect, it } from 'vitest'
import { VERDICT_HINT } from '../src/classify/classify.ts'
import {
  AttemptTimeoutError,
  classifyError,
  classifyValue,
  DeadlineExceededError,
  parseRetryAfter,
} from '../src/index.ts'

const wall = Date.UTC(2026, 10, 21, 12, 0, 0)
const now = () => wall
const netError = (code: string, syscall?: string) =>
  Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) })
const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause })
const grpcError = (code: number, pushback?: string) => ({
  code,
  details: 'x',
  metadata: { get: (key: string) => (key === 'grpc-retry-pushback-ms' && pushback !== undefined ? [pushback] : []) },
})
const undiciData = (statusCode: number, headers: Record<string, string> = {}) => ({
  statusCode,
  headers,
  trailers: {},
  body: { dump: async () => {} },
})

describe('classifyError', () => {
  const table: [string, unknown, unknown][] = [
    ['fetch TypeError with cause ECONNREFUSED', fetchFailed(netError('ECONNREFUSED', 'connect')), 'not-sent'],
    ['ENOTFOUND from getaddrinfo', netError('ENOTFOUND', 'getaddrinfo'), 'not-sent'],
    ['undici connect timeout', netError('UND_ERR_CONNECT_TIMEOUT'), 'not-sent'],
    ['ETIMEDOUT on connect', netError('ETIMEDOUT', 'connect'), 'not-sent'],
    ['ETIMEDOUT on a read', netError('ETIMEDOUT', 'read'), 'endpoint-failure'],
    ['TLS name mismatch (nothing was written)', fetchFailed(netError('ERR_TLS_CERT_ALTNAME_INVALID')), 'not-sent'],
    ['UND_ERR_SOCKET after the request was written', fetchFailed(netError('UND_ERR_SOCKET')), 'endpoint-failure'],
    ['ECONNRESET', netError('ECONNRESET', 'read'), 'endpoint-failure'],
    ['undici headers timeout', netError('UND_ERR_HEADERS_TIMEOUT'), 'endpoint-failure'],
    ['undici aborted', netError('UND_ERR_ABORTED'), 'cancelled'],
    ['an AbortError', new DOMException('aborted', 'AbortError'), 'cancelled'],
    ['a TimeoutError (AbortSignal.timeout)', new DOMException('timed out', 'TimeoutError'), 'endpoint-failure'],
    ['gRPC UNAVAILABLE', grpcError(14), 'endpoint-failure'],
    ['gRPC INTERNAL', grpcError(13), 'endpoint-failure'],
    ['gRPC UNKNOWN', grpcError(2), 'endpoint-failure'],
    ['gRPC DEADLINE_EXCEEDED', grpcError(4), 'endpoint-failure'],
    ['gRPC INVALID_ARGUMENT', grpcError(3), 'caller-error'],
    ['gRPC NOT_FOUND', grpcError(5), 'caller-error'],
    ['gRPC PERMISSION_DENIED', grpcError(7), 'caller-error'],
    ['gRPC UNAUTHENTICATED', grpcError(16), 'caller-error'],
    ['gRPC FAILED_PRECONDITION', grpcError(9), 'caller-error'],
    ['gRPC UNIMPLEMENTED', grpcError(12), 'caller-error'],
    [
      'gRPC RESOURCE_EXHAUSTED with pushback',
      grpcError(8, '1500'),
      { verdict: 'overloaded', retryAfterMs: 1500, refused: true },
    ],
    [
      'gRPC RESOURCE_EXHAUSTED without pushback',
      grpcError(8),
      { verdict: 'overloaded', retryAfterMs: 0, refused: true },
    ],
    ['gRPC CANCELLED', grpcError(1), 'cancelled'],
    [
      'axios error with a 502 response',
      { isAxiosError: true, response: { status: 502, headers: {} } },
      'endpoint-failure',
    ],
    ['axios error with a 404 response', { isAxiosError: true, response: { status: 404, headers: {} } }, 'caller-error'],
    ['axios ECONNREFUSED', Object.assign(new Error('x'), { isAxiosError: true, code: 'ECONNREFUSED' }), 'not-sent'],
    ['axios cancel', Object.assign(new Error('x'), { isAxiosError: true, code: 'ERR_CANCELED' }), 'cancelled'],
    [
      'an HttpError thrown by user code with status 503',
      Object.assign(new Error('503'), { status: 503 }),
      'endpoint-failure',
    ],
    ['an HttpError with status 404', Object.assign(new Error('404'), { statusCode: 404 }), 'caller-error'],
    [
      'an error carrying a 429 response with Retry-After',
      Object.assign(new Error('x'), { response: { status: 429, headers: { 'retry-after': '3' } } }),
      { verdict: 'overloaded', retryAfterMs: 3000, refused: true },
    ],
    [
      'a bug in fn (TypeError without a network cause)',
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      'caller-error',
    ],
    [
      'an error with a plain header object whose Retry-After is capitalised',
      Object.assign(new Error('x'), { status: 429, headers: { 'Retry-After': '4' } }),
      { verdict: 'overloaded', retryAfterMs: 4000, refused: true },
    ],
    ['an unknown error', new Error('something broke'), 'endpoint-failure'],
    ['a non-error value', 'oops', 'endpoint-failure'],
    ["keel's attempt timeout from a nested balancer", new AttemptTimeoutError(10, 'x'), 'endpoint-failure'],
    ["keel's deadline from a nested balancer", new DeadlineExceededError(10), 'endpoint-failure'],
  ]
  it.each(table)('%s', (_name, error, expected) => {
    expect(classifyError(error, now)).toEqual(expected)
  })

  it("takes an adapter's verdict hint over the error's own code, also on a cause", () => {
    const unavailable = Object.defineProperty(grpcError(14), VERDICT_HINT, { value: 'not-sent' })
    expect(classifyError(unavailable, now)).toBe('not-sent')
    expect(classifyError(new Error('wrapped', { cause: unavailable }), now)).toBe('not-sent')
    const cancelled = Object.defineProperty(grpcError(1), VERDICT_HINT, { value: 'endpoint-failure' })
    expect(classifyError(cancelled, now)).toBe('endpoint-failure')
  })

  it('ignores a verdict hint that is not a verdict', () => {
    expect(classifyError(Object.defineProperty(grpcError(14), VERDICT_HINT, { value: 'maybe' }), now)).toBe(
      'endpoint-failure',
    )
  })
})

describe('classifyValue', () => {
  const table: [string, unknown, unknown][] = [
    ['a 200 Response', new Response('ok'), 'success'],
    ['a 304 Response', new Response(null, { status: 304 }), 'success'],
    ['a 500 Response', new Response('x', { status: 500 }), 'endpoint-failure'],
    ['a 503 Response', new Response('x', { status: 503 }), 'endpoint-failure'],
    [
      'a 503 Response with Retry-After',
      new Response('x', { status: 503, headers: { 'retry-after': '2' } }),
      { verdict: 'overloaded', retryAfterMs: 2000, refused: false },
    ],
    [
      'a 429 Response with Retry-After: 2',
      new Response('x', { status: 429, headers: { 'Retry-After': '2' } }),
      { verdict: 'overloaded', retryAfterMs: 2000, refused: true },
    ],
    [
      'a 429 Response without Retry-After',
      new Response('x', { status: 429 }),
      { verdict: 'overloaded', retryAfterMs: 0, refused: true },
    ],
    ['a 404 Response', new Response('x', { status: 404 }), 'caller-error'],
    ['a 501 Response', new Response('x', { status: 501 }), 'caller-error'],
    ['undici response data with statusCode 502', undiciData(502), 'endpoint-failure'],
    [
      'undici response data 429 with retry-after',
      undiciData(429, { 'retry-after': '1' }),
      { verdict: 'overloaded', retryAfterMs: 1000, refused: true },
    ],
    ['a JSON object with statusCode 500 returned by fn', { statusCode: 500, message: 'app error' }, 'success'],
    ['a number', 42, 'success'],
    ['undefined', undefined, 'success'],
  ]
  it.each(table)('%s', (_name, value, expected) => {
    expect(classifyValue(value, now)).toEqual(expected)
  })
})

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter(new Date(wall + 5_000).toUTCString(), now)).toBe(5_000)
    expect(parseRetryAfter(new Date(wall - 5_000).toUTCString(), now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})
