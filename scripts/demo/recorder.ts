// Everything the demo shows, gathered from the balancer's events and the calls it made.
import type { Balancer, EndpointSnapshot } from '../../src/index.ts'
import { percentile, SampleWindow } from './window.ts'

/** One endpoint's line: share of the last second's attempts, their p50/p99, its state. */
export interface EndpointRow {
  readonly name: string
  readonly share: number
  readonly p50: number
  readonly p99: number
  readonly state: string
  readonly inFlight: number
  /** keel's PeakEWMA latency estimate for it now, in ms (what p2c-ewma picks by). */
  readonly ewmaMs: number
}

export interface Frame {
  readonly elapsedMs: number
  readonly callsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly failures: number
  readonly rows: readonly EndpointRow[]
}

const SECOND = 1_000

export class Recorder {
  readonly #balancer: Balancer<unknown>
  readonly #names: ReadonlyMap<number, string>
  readonly #start: number
  readonly #attempts = new Map<string, SampleWindow>()
  readonly #calls = new SampleWindow(SECOND)
  /** Every call's client-visible latency, for the summary. */
  readonly latencies: number[] = []
  /** Lines for the event log: `[elapsed ms, text]`, oldest first. */
  readonly events: [number, string][] = []
  readonly counts = { calls: 0, failures: 0, retries: 0, attempts: 0, failedAttempts: 0 }
  /** Every ended attempt: when (elapsed ms), where, and whether it succeeded. */
  readonly attempts: { readonly at: number; readonly name: string; readonly ok: boolean }[] = []
  /** Ejections by the breaker or outlier detection, as `C (outlier)`. */
  readonly ejections: string[] = []
  firstFailure: unknown

  /** `names` maps each backend's port to its name. */
  constructor(balancer: Balancer<unknown>, names: ReadonlyMap<number, string>) {
    this.#balancer = balancer
    this.#names = names
    this.#start = performance.now()
    for (const name of names.values()) this.#attempts.set(name, new SampleWindow(SECOND))
    const name = (endpoint: { port: number }) => names.get(endpoint.port) ?? String(endpoint.port)
    balancer.on('attempt', (e) => {
      const who = name(e.endpoint)
      this.#attempts.get(who)?.add(performance.now(), e.durationMs)
      this.counts.attempts++
      this.attempts.push({ at: this.elapsed(), name: who, ok: e.verdict === 'success' })
      if (e.verdict !== 'success' && e.verdict !== 'cancelled') this.counts.failedAttempts++
    })
    balancer.on('retry', () => this.counts.retries++)
    // Health ejections show as unhealthy / healthy below: one line each is enough.
    balancer.on('ejected', (e) => {
      if (e.detector === 'health') return
      this.ejections.push(`${name(e.endpoint)} (${e.detector})`)
      this.note(`${name(e.endpoint)} ejected by ${e.detector}: ${e.reason}`)
    })
    balancer.on('restored', (e) => {
      if (e.detector !== 'health') this.note(`${name(e.endpoint)} restored by ${e.detector}: ${e.reason}`)
    })
    // At start every endpoint reports its first passing check: only a recovery is news.
    const sick = new Set<string>()
    balancer.on('unhealthy', (e) => {
      sick.add(name(e.endpoint))
      this.note(`${name(e.endpoint)} unhealthy: 3 health checks failed in a row`)
    })
    balancer.on('healthy', (e) => {
      if (sick.delete(name(e.endpoint))) this.note(`${name(e.endpoint)} healthy: 2 health checks passed`)
    })
    balancer.on('breakerOpen', (e) => this.note(`${name(e.endpoint)} circuit breaker open`))
    balancer.on('breakerHalfOpen', (e) => this.note(`${name(e.endpoint)} circuit breaker half-open`))
    balancer.on('breakerClose', (e) => this.note(`${name(e.endpoint)} circuit breaker closed`))
    balancer.on('budgetExhausted', () => this.note('retry budget exhausted'))
  }

  /** The share of the successful attempts between `from` and `to` (elapsed ms) that `name` answered. */
  share(name: string, from: number, to: number): number {
    const inside = this.attempts.filter((a) => a.ok && a.at >= from && a.at < to)
    return inside.length === 0 ? 0 : inside.filter((a) => a.name === name).length / inside.length
  }

  /** Elapsed ms of `name`'s first successful attempt after `from`, or NaN. */
  firstSuccess(name: string, from: number): number {
    return this.attempts.find((a) => a.ok && a.name === name && a.at >= from)?.at ?? Number.NaN
  }

  elapsed(): number {
    return performance.now() - this.#start
  }

  note(text: string): void {
    this.events.push([this.elapsed(), text])
  }

  /** A call ended: `error` is what the caller saw, if it failed. */
  call(latencyMs: number, error?: unknown): void {
    this.counts.calls++
    this.latencies.push(latencyMs)
    this.#calls.add(performance.now(), latencyMs)
    if (error !== undefined) {
      this.counts.failures++
      this.firstFailure ??= error
    }
  }

  frame(): Frame {
    const now = performance.now()
    const calls = this.#calls.sorted(now)
    const byName = new Map<string, EndpointSnapshot>()
    for (const e of this.#balancer.snapshot().endpoints) {
      const port = Number(e.id.slice(e.id.lastIndexOf(':') + 1))
      byName.set(this.#names.get(port) ?? e.id, e)
    }
    const windows = [...this.#attempts].map(([name, w]) => [name, w.sorted(now)] as const)
    const total = windows.reduce((sum, [, samples]) => sum + samples.length, 0)
    const rows = windows.map(([name, samples]): EndpointRow => {
      const snapshot = byName.get(name)
      return {
        name,
        share: total === 0 ? 0 : samples.length / total,
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        state: snapshot?.state ?? 'removed',
        inFlight: snapshot?.inFlight ?? 0,
        ewmaMs: snapshot?.ewmaMs ?? Number.NaN,
      }
    })
    return {
      elapsedMs: this.elapsed(),
      callsPerSecond: calls.length,
      p50: percentile(calls, 50),
      p99: percentile(calls, 99),
      failures: this.counts.failures,
      rows,
    }
  }
}
