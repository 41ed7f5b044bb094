import type { Agent } from 'node:http'
import type { Socket } from 'node:net'
import type { AdapterPort } from '../../core/ports.ts'
import type { TimerEntry } from '../../internal/timer-queue.ts'
import { IdleTimeoutError } from './idle-timeout-error.ts'

/** How often a sweep looks, as a share of the limit: a silent socket is closed within 1¼ × the limit. */
const SWEEPS_PER_LIMIT = 4

/** What a sweep last saw of a socket: its byte count, and since when (clock time) it has not moved. */
interface Seen {
  bytes: number
  since: number
}

/**
 * `axiosAdapter`'s `idleTimeout` on keel's own per-endpoint agents, kept by looking at their busy
 * sockets every quarter of the limit (on the balancer's clock) instead of by each request: a
 * socket whose byte count (read plus written) has not moved for the limit is destroyed with an
 * `IdleTimeoutError`, which fails its request. Bytes either way count as activity, so an upload or
 * a download that keeps moving is never cut, and a connection that never opens is caught too.
 *
 * Why not axios' `timeout` (what `idleTimeout` is for a request on its own agent): through
 * follow-redirects it is, per request, a timer, four listeners on the request and one on the
 * socket, and the socket's timer set twice: about 4 µs of CPU a request over loopback, and keel's
 * round-robin adapter read 0.94× of a hand-rolled round-robin with it, 0.97× without
 * (docs/benchmarks.md, "axios"). The sweep costs nothing per request, and one timer in all.
 *
 * A socket with an inactivity timer of its own (a request's own axios `timeout`: `socket.timeout`
 * set, and not to the agents' idle timeout, which axios resets to 0 per request) is left to it: a
 * request's own `timeout` wins, as documented. (One equal to the agents' timeout is kept by both,
 * the shorter first.)
 */
export class IdleSweep {
  readonly #port: AdapterPort
  readonly #limit: number
  readonly #agentTimeout: number | undefined
  readonly #agents = new Set<Agent>()
  readonly #seen = new WeakMap<Socket, Seen>()
  #entry: TimerEntry | undefined

  /** @param agentTimeout the agents' own socket timeout (their `timeout` option) */
  constructor(port: AdapterPort, limit: number, agentTimeout: number | undefined) {
    this.#port = port
    this.#limit = limit
    this.#agentTimeout = agentTimeout
  }

  /** Watches the busy sockets of `agent` until `remove`. */
  add(agent: Agent): void {
    this.#agents.add(agent)
    this.#entry ??= this.#port.timers.schedule(this.#port.clock.now() + this.#limit / SWEEPS_PER_LIMIT, this.#sweep)
  }

  /** Stops watching `agent` (closed); the timer stops with the last one. */
  remove(agent: Agent): void {
    this.#agents.delete(agent)
    if (this.#agents.size > 0 || this.#entry === undefined) return
    this.#port.timers.cancel(this.#entry)
    this.#entry = undefined
  }

  readonly #sweep = (): void => {
    this.#entry = undefined
    const now = this.#port.clock.now()
    for (const agent of this.#agents) {
      for (const sockets of Object.values(agent.sockets)) for (const socket of sockets ?? []) this.#look(socket, now)
    }
    if (this.#agents.size > 0) {
      this.#entry = this.#port.timers.schedule(now + this.#limit / SWEEPS_PER_LIMIT, this.#sweep)
    }
  }

  #look(socket: Socket, now: number): void {
    const own = socket.timeout
    if (own !== undefined && own > 0 && own !== this.#agentTimeout) return
    const bytes = socket.bytesRead + socket.bytesWritten
    const seen = this.#seen.get(socket)
    if (seen === undefined) this.#seen.set(socket, { bytes, since: now })
    else if (seen.bytes !== bytes) {
      seen.bytes = bytes
      seen.since = now
    } else if (now - seen.since >= this.#limit) {
      socket.destroy(new IdleTimeoutError(this.#limit, socket.connecting))
    }
  }
}
