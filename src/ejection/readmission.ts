import type { Random } from '../internal/random.ts'

/**
 * Re-admission of an endpoint that outlier detection ejected inline (consecutive failures or
 * refusals): instead of sitting out the whole ejection (30 s and more), it is probed on a backoff
 * that starts near 1 s — Linkerd's failure accrual, whose probation backoff starts at 1 s — and
 * restored as soon as a probe passes. The probe is one real request: at the probe's time the
 * endpoint is restored on probation and takes one trial attempt at a time (as a half-open
 * breaker does: concurrent picks go elsewhere) until one answers. A success ends the probation;
 * a failure ejects it again at once, with the next, longer, probe delay. A refused probe costs the
 * caller nothing (`not-sent` is retried on another endpoint at once, idempotent or not). An
 * endpoint that keeps failing its probes is probed less and less often and sits out the full
 * ejection: outlier detection's longer ejection applies only to it.
 */

/** The first probe's delay (ms), before jitter. */
export const PROBE_BASE_MS = 1_000
/** Each failed probe multiplies the next delay by this. */
export const PROBE_FACTOR = 1.25
/** The longest delay between two probes (ms). */
export const PROBE_MAX_MS = 30_000

/**
 * Connect probes (`connect-probe.ts`) that fail before their delay starts growing: a refused SYN
 * costs the endpoint next to nothing and no caller anything, so a replica that takes a while to
 * restart (a process start on a loaded host, a rolling deploy) is still probed about once a
 * second for its first ~10 s, and is back within ~1 s of listening, instead of within the 2–3 s a
 * backoff has grown to by then. HAProxy checks every server every 2 s by default (`inter`).
 */
export const FLAT_CONNECT_PROBES = 10

/**
 * The delay before probe number `failed + 1`: 1 s × 1.25^failed, at most 30 s, jittered by ±20%
 * so endpoints ejected together (a rack, a deploy) are not probed in lockstep. About 1, 1.25,
 * 1.6, 2, 2.4, 3 … s: a replica that listens again within ~6 s of its ejection is back within
 * 2 s of listening, and one that stays dead costs about ten refused probes per 30 s. With
 * `connect`, the first `FLAT_CONNECT_PROBES` failures do not grow the delay.
 */
export function probeDelay(failed: number, random: Random, connect = false): number {
  const k = connect ? Math.max(0, failed - FLAT_CONNECT_PROBES) : failed
  const base = Math.min(PROBE_BASE_MS * PROBE_FACTOR ** k, PROBE_MAX_MS)
  return Math.round(base * (0.8 + 0.4 * random()))
}
