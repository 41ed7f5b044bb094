import type { Socket } from 'node:net'
import type { AttemptControl } from '../../core/ports.ts'
import type { TimerEntry } from '../../internal/timer-queue.ts'
import type { NetHost } from './host.ts'

/** `maxConnectionAge` is spread by ±10%, as keel's per-endpoint resources are (see endpoints.md). */
const AGE_JITTER = 0.1

/**
 * Keeps a connected socket's attempt in flight until the socket closes, so the endpoint's
 * in-flight count is its open connections (least-request becomes least-connections, HAProxy's
 * `balance leastconn`). Calls `resolve` or `reject` (the attempt's own promise) with how the
 * connection ended:
 *
 * - closed without an error (either side ended it, or the caller destroyed it): `success`;
 * - an error after the hand-over (reset, broken pipe, a keepalive timeout): `endpoint-failure`;
 * - keel cancelled the attempt (a drained endpoint past `drainTimeout`, `close()`, the caller's
 *   signal): the socket is destroyed with keel's reason as its `'error'`; keel's verdict stands.
 *
 * With `maxConnectionAge`, the connection is ended (FIN: the server finishes what it has and
 * closes) once older than the age ±10%, and destroyed if still open `drainTimeout` later; that
 * counts as a success. Clients that reconnect (connection pools, Redis clients) then get a freshly
 * balanced connection, as gRPC's `max_connection_age` re-spreads long-lived channels.
 */
export function holdConnection(
  host: NetHost,
  socket: Socket,
  control: AttemptControl,
  resolve: () => void,
  reject: (error: unknown) => void,
): void {
  const { clock, random, settings, timers } = host.port
  let failure: Error | undefined
  let aged = false
  let ageTimer: TimerEntry | undefined
  let graceTimer: TimerEntry | undefined
  socket.on('error', (error: Error) => {
    failure ??= error
  })
  control.canceller = { attemptCancelled: (reason) => socket.destroy(reason as Error) }
  const maxAge = settings.maxConnectionAge
  if (maxAge !== undefined) {
    const age = maxAge * (1 - AGE_JITTER + 2 * AGE_JITTER * random())
    ageTimer = timers.schedule(clock.now() + age, () => {
      ageTimer = undefined
      aged = true
      socket.end()
      graceTimer = timers.schedule(clock.now() + settings.drainTimeout, () => socket.destroy())
    })
  }
  socket.on('close', () => {
    control.canceller = undefined
    if (ageTimer !== undefined) timers.cancel(ageTimer)
    if (graceTimer !== undefined) timers.cancel(graceTimer)
    if (control.cancelled) reject(control.cancelReason)
    else if (failure === undefined || aged) resolve()
    else {
      control.knownVerdict('endpoint-failure')
      reject(failure)
    }
  })
}
