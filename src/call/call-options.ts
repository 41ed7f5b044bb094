import type { ResolvedHedge } from './hedge-options.ts'
import type { ResolvedRetry } from './retry-options.ts'

/** A call's options merged with the balancer's. */
export interface ResolvedCall {
  readonly key: string | Uint8Array | undefined
  readonly idempotent: boolean
  readonly signal: AbortSignal | undefined
  readonly timeout: number | undefined
  readonly attemptTimeout: number | undefined
  readonly retry: ResolvedRetry | false
  readonly hedge: ResolvedHedge | false
  /** Nothing can end the call but its attempts: no signal, timeout, attempt timeout or hedge (hedging needs `idempotent`). */
  readonly simple: boolean
}
