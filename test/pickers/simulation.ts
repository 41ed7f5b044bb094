import { Balancer, type BalancerOptions, type Endpoint, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

/** How a simulated backend answers: after `latency` ms of clock time, with `answer`. */
export interface Backend {
  latency: number
  /** `refused`: the connect was refused (ECONNREFUSED: `not-sent`), as by a replica that is down. */
  answer: 'ok' | 'endpoint-failure' | 'caller-error' | 'refused'
}

/** One attempt as the backend saw it. */
export interface Sent {
  readonly id: string
  readonly at: number
}

/**
 * A balancer over simulated backends on a manual clock: each attempt waits its backend's latency
 * on the clock (a timer the test's `advance` fires), so attempt durations, PeakEWMA samples and
 * in-flight counts are exact and every run replays identically under the seed.
 */
export class Simulation {
  readonly clock = new ManualClock()
  readonly ids: string[]
  readonly backends = new Map<string, Backend>()
  readonly sent: Sent[] = []
  readonly balancer: Balancer
  /** Calls started by `run`. */
  calls = 0
  /** Calls started by `run` that rejected. */
  failedCalls = 0
  /** Called for every attempt before it is sent (invariant checks). */
  onAttempt: ((endpoint: Endpoint<never>) => void) | undefined
  /**
   * How long the attempt starting now takes at backend `index`: its `latency` unless a test sets
   * this (jitter, a pause), drawing from its own seeded random so runs replay.
   */
  latencyOf: (backend: Backend, index: number) => number = (backend) => backend.latency

  constructor(count: number, seed: number, options: BalancerOptions = {}) {
    this.ids = []
    const endpoints: string[] = []
    for (let i = 0; i < count; i++) {
      const url = `http://10.0.0.${i + 1}:8080`
      endpoints.push(url)
      this.ids.push(`http://10.0.0.${i + 1}:8080`)
      this.backends.set(this.ids[i]!, { latency: 5, answer: 'ok' })
    }
    this.balancer = new Balancer({
      endpoints,
      clock: this.clock,
      random: seededRandom(seed),
      ...options,
    })
  }

  backend(index: number): Backend {
    return this.backends.get(this.ids[index]!)!
  }

  readonly fn = async (endpoint: Endpoint<never>): Promise<string> => {
    this.onAttempt?.(endpoint)
    const backend = this.backends.get(endpoint.id)!
    this.sent.push({ id: endpoint.id, at: this.clock.now() })
    const latency = this.latencyOf(backend, this.ids.indexOf(endpoint.id))
    if (latency > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, latency))
    if (backend.answer === 'endpoint-failure') throw Object.assign(new Error('503'), { status: 503 })
    if (backend.answer === 'caller-error') throw Object.assign(new Error('404'), { status: 404 })
    if (backend.answer === 'refused') {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
    }
    return 'ok'
  }

  /**
   * Runs `workers` loops of back-to-back idempotent calls for `durationMs` of clock time (one
   * worker: strictly sequential calls), then lets the calls in flight finish.
   */
  async run(durationMs: number, workers = 1): Promise<void> {
    const end = this.clock.now() + durationMs
    const loop = async () => {
      while (this.clock.now() < end) {
        this.calls++
        await this.balancer.call(this.fn, { idempotent: true }).catch(() => {
          this.failedCalls++
        })
      }
    }
    let settled = false
    const loops = Promise.all(Array.from({ length: workers }, loop)).then(() => {
      settled = true
    })
    await this.clock.advance(durationMs)
    // Calls started just before the end finish within the slowest backend's latency and backoff:
    // a second at a time until they have.
    do await this.clock.advance(1_000)
    while (!settled)
    await loops
  }

  /** Attempts sent to `index` from position `from` of `sent` on. */
  countTo(index: number, from = 0, to = this.sent.length): number {
    const id = this.ids[index]
    let n = 0
    for (let i = from; i < to; i++) if (this.sent[i]!.id === id) n++
    return n
  }

  /** The share of attempts sent to `index` at clock times in [from, to). */
  shareBetween(index: number, from: number, to: number): number {
    const a = this.indexAt(from)
    const b = this.indexAt(to)
    return b === a ? 0 : this.countTo(index, a, b) / (b - a)
  }

  /** The most attempts sent to `index` in any `size` consecutive attempts from position `from`. */
  worstWindow(index: number, size: number, from = 0): number {
    const id = this.ids[index]
    let worst = 0
    let count = 0
    for (let i = from; i < this.sent.length; i++) {
      if (this.sent[i]!.id === id) count++
      if (i - from >= size && this.sent[i - size]!.id === id) count--
      if (count > worst) worst = count
    }
    return worst
  }

  /** The first position in `sent` at or after clock time `at`. */
  indexAt(at: number): number {
    const i = this.sent.findIndex((s) => s.at >= at)
    return i === -1 ? this.sent.length : i
  }
}
