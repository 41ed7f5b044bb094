import {
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  checkString,
  MAX_TIMER,
  rangeError,
  section,
  TIMER,
  typeError,
} from '../../internal/validate.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'

// The `healthCheck` option section.

/** Active health checks (off unless this option is given). */
export interface HealthCheckOptions {
  /** @default 'http' */
  readonly type?: 'http' | 'tcp' | 'grpc' | 'custom'
  /** Path of an `http` check, joined onto the endpoint's prefix. @default '/health' */
  readonly path?: string
  /** Request headers of an `http` check. */
  readonly headers?: Readonly<Record<string, string>>
  /** Statuses that pass an `http` check: one status or an inclusive `[min, max]`. @default [200, 399] */
  readonly expectedStatus?: number | readonly [number, number]
  /** `grpc.health.v1` service name of a `grpc` check. @default '' (the whole server) */
  readonly service?: string
  /** The check of type `custom`: resolve `true` for healthy. */
  readonly check?: (endpoint: EndpointInfo, signal: AbortSignal) => Promise<boolean>
  /** Time between checks of one endpoint, in ms. @default 5_000 */
  readonly interval?: number
  /** A check slower than this fails, in ms. @default 1_000 */
  readonly timeout?: number
  /** Consecutive passing checks that make an unhealthy endpoint healthy. @default 2 */
  readonly healthyThreshold?: number
  /** Consecutive failing checks that make a healthy endpoint unhealthy. @default 3 */
  readonly unhealthyThreshold?: number
  /** Random spread of each interval, as a percentage of it (±). @default 10 */
  readonly jitter?: number
}

export interface ResolvedHealthCheck {
  readonly type: 'http' | 'tcp' | 'grpc' | 'custom'
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly expectedStatus: readonly [number, number]
  readonly service: string
  readonly check: ((endpoint: EndpointInfo, signal: AbortSignal) => Promise<boolean>) | undefined
  readonly interval: number
  readonly timeout: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
  readonly jitter: number
}

const HEALTH_KEYS = [
  'type',
  'path',
  'headers',
  'expectedStatus',
  'service',
  'check',
  'interval',
  'timeout',
  'healthyThreshold',
  'unhealthyThreshold',
  'jitter',
] as const

export function resolveHealthCheck(value: unknown): ResolvedHealthCheck | false {
  if (value === undefined || value === false) return false
  const h = section('healthCheck', value, HEALTH_KEYS)!
  const type = checkOneOf('healthCheck.type', h.type, ['http', 'tcp', 'grpc', 'custom'] as const) ?? 'http'
  const check = checkFunction<NonNullable<ResolvedHealthCheck['check']>>('healthCheck.check', h.check)
  if (type === 'custom' && check === undefined)
    throw typeError('healthCheck.check', "a function when `healthCheck.type` is 'custom'", h.check)
  if (type !== 'custom' && check !== undefined) {
    throw typeError('healthCheck.type', "'custom' when `healthCheck.check` is given", h.type)
  }
  const path = checkString('healthCheck.path', h.path) ?? '/health'
  if (!path.startsWith('/')) throw rangeError('healthCheck.path', 'a path starting with "/"', path)
  const headers = checkObject('healthCheck.headers', h.headers) ?? {}
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw typeError(`healthCheck.headers.${k}`, 'a string', v)
  }
  let expectedStatus: readonly [number, number] = [200, 399]
  if (typeof h.expectedStatus === 'number') {
    const s = checkNumber('healthCheck.expectedStatus', h.expectedStatus, { integer: true, min: 100, max: 599 })!
    expectedStatus = [s, s]
  } else if (Array.isArray(h.expectedStatus)) {
    const [lo, hi] = h.expectedStatus as unknown[]
    if (h.expectedStatus.length !== 2)
      throw typeError('healthCheck.expectedStatus', 'a status or a [min, max] pair', h.expectedStatus)
    const min = checkNumber('healthCheck.expectedStatus[0]', lo, { integer: true, min: 100, max: 599 })!
    const max = checkNumber('healthCheck.expectedStatus[1]', hi, { integer: true, min: 100, max: 599 })!
    if (max < min) throw rangeError('healthCheck.expectedStatus[1]', `a status ≥ ${min}`, max)
    expectedStatus = [min, max]
  } else if (h.expectedStatus !== undefined) {
    throw typeError('healthCheck.expectedStatus', 'a status or a [min, max] pair', h.expectedStatus)
  }
  const interval = checkNumber('healthCheck.interval', h.interval, { min: 10, max: MAX_TIMER }) ?? 5_000
  const timeout = checkNumber('healthCheck.timeout', h.timeout, TIMER) ?? Math.min(1_000, interval)
  return Object.freeze({
    type,
    path,
    headers: Object.freeze({ ...(headers as Record<string, string>) }),
    expectedStatus: Object.freeze(expectedStatus) as readonly [number, number],
    service: checkString('healthCheck.service', h.service, false) ?? '',
    check,
    interval,
    timeout,
    healthyThreshold:
      checkNumber('healthCheck.healthyThreshold', h.healthyThreshold, { integer: true, min: 1, max: 1000 }) ?? 2,
    unhealthyThreshold:
      checkNumber('healthCheck.unhealthyThreshold', h.unhealthyThreshold, { integer: true, min: 1, max: 1000 }) ?? 3,
    jitter: checkNumber('healthCheck.jitter', h.jitter, { min: 0, max: 50 }) ?? 10,
  })
}
