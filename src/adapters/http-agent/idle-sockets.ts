import type { Agent as HttpAgent, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { TimerEntry, Timers } from '../../core/ports.ts'
import type { Clock } from '../../internal/clock.ts'

/** When a free keep-alive socket has been idle too long, on keel's clock. */
const IDLE_UNTIL = Symbol('keel.idleUntil')

type Stamped = Socket & { [IDLE_UNTIL]?: number; _httpMessage?: { res?: IncomingMessage | null } | null }

/**
 * Closes the keep-alive sockets of a `BalancerAgent`'s endpoint agents that sat free longer than
 * the agent's `timeout`, or than the server's `Keep-Alive: timeout=N` hint less node:http's buffer
 * (so keel never reuses a socket the server is about to close).
 *
 * node:http implements an agent `timeout` with a timer on every socket that every request clears,
 * re-arms and refreshes on each read and write, plus a `timeout` listener per request: about 3 µs
 * per request on a loopback benchmark (docs/benchmarks.md). Here a freed socket gets a deadline
 * stamped on it (one clock read), and one timer of the balancer's queue per `BalancerAgent` sweeps
 * its endpoint agents' free lists when the earliest deadline passes, as a connection pool's idle reaper does (HikariCP's
 * housekeeper, Envoy's `idle_timeout` on upstream connections).
 */
export class IdleSockets {
  readonly #clock: Clock
  readonly #timers: Timers
  readonly #idleMs: number
  readonly #agents: ReadonlySet<HttpAgent>
  /** The armed sweep; a deadline before its `at` re-arms it earlier. */
  #sweep: TimerEntry | undefined = undefined

  constructor(clock: Clock, timers: Timers, idleMs: number, agents: ReadonlySet<HttpAgent>) {
    this.#clock = clock
    this.#timers = timers
    this.#idleMs = idleMs
    this.#agents = agents
  }

  /** A socket went back to its agent's free list (`Agent#keepSocketAlive` returned true). */
  freed(socket: Socket, bufferMs: number): void {
    let idleMs = this.#idleMs
    // node:http has built `res.headers` already, reading this same hint.
    const hint = (socket as Stamped)._httpMessage?.res?.headers['keep-alive']
    if (typeof hint === 'string') {
      const seconds = /^timeout=(\d+)/.exec(hint)?.[1]
      if (seconds !== undefined) idleMs = Math.min(idleMs, Number(seconds) * 1000 - bufferMs)
    }
    if (idleMs === Number.POSITIVE_INFINITY) {
      // `timeout: 0` and no hint: no limit, and none left from an earlier response's hint.
      if ((socket as Stamped)[IDLE_UNTIL] !== undefined) (socket as Stamped)[IDLE_UNTIL] = idleMs
      return
    }
    const until = this.#clock.now() + idleMs
    ;(socket as Stamped)[IDLE_UNTIL] = until
    if (until < (this.#sweep?.at ?? Number.POSITIVE_INFINITY)) this.#arm(until)
  }

  /** Stops the sweep (the agent was destroyed or the balancer closes). */
  stop(): void {
    if (this.#sweep !== undefined) this.#timers.cancel(this.#sweep)
    this.#sweep = undefined
  }

  #arm(at: number): void {
    if (this.#sweep !== undefined) this.#timers.cancel(this.#sweep)
    this.#sweep = this.#timers.schedule(at, this.#run)
  }

  readonly #run = (): void => {
    this.#sweep = undefined
    const now = this.#clock.now()
    let next = Number.POSITIVE_INFINITY
    for (const agent of this.#agents) {
      for (const free of Object.values(agent.freeSockets)) {
        if (free === undefined) continue
        // Destroyed sockets leave the list on their `close` (node:http's own listener): copy first.
        for (const socket of [...free] as Stamped[]) {
          const until = socket[IDLE_UNTIL] ?? Number.POSITIVE_INFINITY
          if (until <= now) socket.destroy()
          else if (until < next) next = until
        }
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next)
  }
}
