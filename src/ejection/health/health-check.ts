import type { EndpointInfo } from '../../model/endpoint.ts'
import { isKeelError, KeelError } from '../../model/errors.ts'

/**
 * One check of one endpoint: resolves `true` when it passes. Anything else (`false`, a rejection,
 * a check still running at its timeout) fails it. It must stop its work when `signal` aborts.
 */
export type HealthCheck = (endpoint: EndpointInfo, signal: AbortSignal) => Promise<boolean>

export type { HealthCheckType } from '../../model/detector.ts'

/** The reason a check's signal is aborted with when it runs past `healthCheck.timeout`. */
export class HealthCheckTimeoutError extends KeelError {
  readonly timeout: number

  constructor(timeout: number) {
    super('KEEL_HEALTH_CHECK_TIMEOUT', `timed out after ${timeout} ms`)
    this.timeout = timeout
  }
}

/** Why a check failed, for the `ejected` event's reason: keel's message, or a system error's code and message. */
export function failureReason(error: unknown): string {
  if (isKeelError(error)) return error.message
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && typeof message === 'string' && !message.includes(code)) return `${code}: ${message}`
    if (typeof message === 'string' && message !== '') return message
    if (typeof code === 'string') return code
  }
  return String(error)
}
