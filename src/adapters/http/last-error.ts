import { isKeelError } from '../../model/errors.ts'

/**
 * The error an adapter's caller gets for a failed call: the last attempt's own error. Adapters
 * never wrap (docs/fetch.md): where `balancer.call` rejects with `RetriesExhaustedError` after
 * several attempts, the caller sees its `cause`, as the client alone would have thrown it.
 */
export function lastAttemptError(error: unknown): unknown {
  return isKeelError(error) && error.code === 'KEEL_RETRIES_EXHAUSTED' ? (error.cause ?? error) : error
}
