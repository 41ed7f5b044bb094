import type { Timers } from '../core/ports.ts'
import type { EndpointInfo } from '../model/endpoint.ts'
import { tcpCheck } from './health/tcp-check.ts'

/**
 * Connect probes for re-admission (`readmission.ts`). An endpoint ejected because its client's
 * TCP connect to it was refused or reset has told keel one thing: nothing accepts connections on
 * its port. A TCP connect to the same host and port asks exactly that question again, for the
 * price of a handshake, without spending a caller's request on it and without restoring the
 * endpoint (and announcing it restored) only to eject it again (Envoy's TCP health checker with no
 * payload, HAProxy's default `check`).
 * Once the connect succeeds the endpoint is restored on probation as after any probe, so a port
 * that listens before the application is ready still costs at most one trial request.
 */

/**
 * Longest a connect probe waits for the handshake (ms): the initial SYN retransmission time
 * (RFC 6298, 1 s), so a probe that lost its SYN is simply the next probe's job.
 */
export const CONNECT_PROBE_TIMEOUT_MS = 1_000

/**
 * Whether `error` (or an error it wraps through `cause` or an `AggregateError`'s `errors`: fetch's
 * `TypeError: fetch failed`, Node's happy-eyeballs attempts) is a Node socket error from a connect
 * to `port`: `syscall: 'connect'` with the dialed `port`. Only then did the client dial the
 * endpoint's port itself (not a proxy, not a Unix socket, not a test double), so a TCP probe to
 * that port checks what failed. Runs only on `not-sent` verdicts.
 */
export function failedConnectTo(error: unknown, port: number, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false
  const e = error as { syscall?: unknown; port?: unknown; cause?: unknown; errors?: unknown }
  if (e.syscall === 'connect' && e.port === port) return true
  if (e.cause !== undefined && failedConnectTo(e.cause, port, depth + 1)) return true
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors.slice(0, 4)) if (failedConnectTo(inner, port, depth + 1)) return true
  }
  return false
}

/** A running connect probe. */
export interface ConnectProbe {
  /** Resolves `true` when the handshake completed, `false` otherwise (refused, reset, timed out, aborted). */
  readonly passed: Promise<boolean>
  abort(): void
}

/**
 * Connects to `endpoint`'s host and port and closes the connection at once; gives up after
 * `timeoutMs` on the balancer's timer queue (the injected clock). The socket is unref'd and
 * destroyed on abort, so a probe never keeps the process alive nor outlives `close()`.
 */
export function connectProbe(
  endpoint: EndpointInfo,
  timers: Timers,
  now: number,
  timeoutMs = CONNECT_PROBE_TIMEOUT_MS,
): ConnectProbe {
  const controller = new AbortController()
  const entry = timers.schedule(now + timeoutMs, () => controller.abort())
  const passed = tcpCheck()(endpoint, controller.signal).then(
    () => true,
    () => false,
  )
  passed.then(() => timers.cancel(entry))
  return { passed, abort: () => controller.abort() }
}
