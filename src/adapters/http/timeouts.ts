import { checkNumber } from '../../internal/validate.ts'

/**
 * The default idle limits of keel's HTTP adapters, in ms: how long an attempt may wait for the
 * response head, and then between two chunks of the body, before it counts as lost (an
 * `endpoint-failure`, retried elsewhere when idempotent). Without them a request in flight on a
 * blackholed or hung replica waits for undici's 300 s (fetch, `BalancerDispatcher`) or forever
 * (axios). 15 s is Envoy's default route timeout (`timeout: 15s`), here applied to the wait for
 * the first byte and to each silence of the body rather than to the whole exchange, so a long
 * download that keeps sending is never cut. nginx waits 60 s (`proxy_read_timeout`, between two
 * reads) and HAProxy's `timeout server` has no default (50 s is the usual configured value).
 * Streaming and long polls that stay silent longer opt out with 0 (undici's "no limit").
 */
export const DEFAULT_IDLE_TIMEOUT = 15_000

/** Per-attempt idle limits, as undici names them (0: none). */
export interface IdleTimeouts {
  readonly headersTimeout: number
  readonly bodyTimeout: number
}

export const DEFAULT_IDLE_TIMEOUTS: IdleTimeouts = Object.freeze({
  headersTimeout: DEFAULT_IDLE_TIMEOUT,
  bodyTimeout: DEFAULT_IDLE_TIMEOUT,
})

const RULE = { min: 0, integer: true }

/** Validates `headersTimeout` / `bodyTimeout` adapter options, filling keel's defaults. */
export function idleTimeouts(options: { headersTimeout?: unknown; bodyTimeout?: unknown }): IdleTimeouts {
  const headersTimeout = checkNumber('headersTimeout', options.headersTimeout, RULE)
  const bodyTimeout = checkNumber('bodyTimeout', options.bodyTimeout, RULE)
  if (headersTimeout === undefined && bodyTimeout === undefined) return DEFAULT_IDLE_TIMEOUTS
  return {
    headersTimeout: headersTimeout ?? DEFAULT_IDLE_TIMEOUT,
    bodyTimeout: bodyTimeout ?? DEFAULT_IDLE_TIMEOUT,
  }
}
