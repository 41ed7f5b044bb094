import { VERDICT_HINT } from '../../classify/classify.ts'
import { KeelError } from '../../model/errors.ts'

/**
 * `axiosAdapter`'s `idleTimeout`, kept by the sweep of keel's per-endpoint agents (`idle-sweep.ts`):
 * the attempt's connection was silent both ways for that long, so keel closed it. The attempt is an
 * `endpoint-failure` (retried elsewhere when idempotent), or `not-sent` when the connection was
 * never established. axios rejects with its `AxiosError`, this error as its `cause`.
 */
export class IdleTimeoutError extends KeelError {
  readonly timeoutMs: number

  constructor(timeoutMs: number, connecting: boolean) {
    super(
      'KEEL_IDLE_TIMEOUT',
      connecting
        ? `The connection was not established within ${timeoutMs} ms`
        : `Nothing moved either way on the connection for ${timeoutMs} ms`,
    )
    this.timeoutMs = timeoutMs
    // A keel error reads as the caller's by default (classify.ts): this one is the endpoint's.
    Object.defineProperty(this, VERDICT_HINT, { value: connecting ? 'not-sent' : 'endpoint-failure' })
  }
}
