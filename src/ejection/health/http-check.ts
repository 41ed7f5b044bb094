import { request as httpRequest, type OutgoingHttpHeaders, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { ConnectionOptions } from 'node:tls'
import { abortReason } from '../../internal/abort.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import { KeelError } from '../../model/errors.ts'
import type { HealthCheck } from './health-check.ts'

export interface HttpCheckOptions {
  /** Joined onto the endpoint's path prefix. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** Inclusive range of passing statuses. */
  readonly expectedStatus: readonly [number, number]
  /** TLS options for `https:`/`grpcs:` endpoints beyond the defaults (a private CA in tests). */
  readonly tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>
}

/** The status was outside `expectedStatus`. */
export class UnexpectedStatusError extends KeelError {
  readonly status: number

  constructor(status: number, [min, max]: readonly [number, number]) {
    super('KEEL_HEALTH_CHECK_STATUS', `status ${status}, expected ${min === max ? min : `${min}-${max}`}`)
    this.status = status
  }
}

const DEFAULT_PORT: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443, 'grpc:': 80, 'grpcs:': 443 }

/**
 * An `http` check: `GET` the path under the endpoint's prefix on a fresh connection (`agent:
 * false`: no pooled socket kept between checks, and a check measures what a new client would
 * see), read and discard the body, pass when the status is in `expectedStatus` (Envoy's
 * `expected_statuses`, HAProxy's `http-check expect status`). TLS endpoints dial `host` but use
 * `servername` for SNI, certificate verification and `Host`. Settles only once the socket is
 * closed, so nothing outlives a check.
 */
export function httpCheck(options: HttpCheckOptions): HealthCheck {
  const [min, max] = options.expectedStatus
  const hasHost = Object.keys(options.headers).some((name) => name.toLowerCase() === 'host')
  return (endpoint, signal) =>
    new Promise<boolean>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal))
        return
      }
      const tls = endpoint.protocol === 'https:' || endpoint.protocol === 'grpcs:'
      const request = tls ? httpsRequest : httpRequest
      let result: true | { error: unknown } | undefined
      const req = request(requestOptions(endpoint, options, tls, hasHost, signal), (res) => {
        const status = res.statusCode ?? 0
        res.on('error', (error) => {
          result ??= { error }
        })
        res.once('end', () => {
          result ??= status >= min && status <= max ? true : { error: new UnexpectedStatusError(status, [min, max]) }
          // The answer is in: close the connection now rather than wait for the server to.
          req.destroy()
        })
        res.resume()
      })
      // A background check must not keep the process alive (as keel's timers are unref'd).
      req.once('socket', (socket) => socket.unref())
      req.on('error', (error) => {
        result ??= { error: signal.aborted ? abortReason(signal) : error }
      })
      req.once('close', () => {
        if (result === true) resolve(true)
        else reject(result?.error ?? new Error('connection closed before the response ended'))
      })
      req.end()
    })
}

function requestOptions(
  endpoint: EndpointInfo,
  options: HttpCheckOptions,
  tls: boolean,
  hasHost: boolean,
  signal: AbortSignal,
): RequestOptions {
  const headers: OutgoingHttpHeaders = { ...options.headers }
  const servername = endpoint.servername
  if (servername !== undefined && !hasHost) {
    headers.host = endpoint.port === DEFAULT_PORT[endpoint.protocol] ? servername : `${servername}:${endpoint.port}`
  }
  const base: RequestOptions = {
    method: 'GET',
    host: endpoint.host,
    port: endpoint.port,
    path: endpoint.path + options.path,
    headers,
    agent: false,
    signal,
  }
  if (!tls) return base
  return { ...base, ...options.tls, ...(servername === undefined ? {} : { servername }) }
}
