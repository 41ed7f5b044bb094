import type { InternalAxiosRequestConfig } from 'axios'
import { isAbortSignal } from '../../internal/abort.ts'

/** The signal that ends a balanced call for its caller, and what to undo when the call settles. */
export interface CallerSignal {
  readonly signal: AbortSignal
  readonly release: (() => void) | undefined
}

interface TokenLike {
  readonly reason?: unknown
  subscribe(listener: (reason: unknown) => void): void
  unsubscribe(listener: (reason: unknown) => void): void
}

/**
 * The caller's way to cancel a request, as one AbortSignal for `balancer.call`: its `signal`, its
 * (deprecated) `cancelToken`, or both. Aborting it ends the call at once, also during a backoff;
 * axios then rejects with its `CanceledError`, as it would without keel (dispatchRequest turns any
 * rejection of a cancelled request into one).
 */
export function callerSignal(config: InternalAxiosRequestConfig): CallerSignal | undefined {
  const own = isAbortSignal(config.signal) ? config.signal : undefined
  const token = config.cancelToken as TokenLike | undefined
  if (token === undefined || token === null) return own === undefined ? undefined : { signal: own, release: undefined }
  const controller = new AbortController()
  const cancel = (reason: unknown) => controller.abort(reason)
  token.subscribe(cancel)
  return {
    signal: own === undefined ? controller.signal : AbortSignal.any([own, controller.signal]),
    release: () => token.unsubscribe(cancel),
  }
}
