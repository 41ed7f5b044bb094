import type { Clock, TimerHandle } from '../../src/index.ts'

interface ManualTimer {
  at: number
  seq: number
  fn: () => void
  cleared: boolean
}

/** Lets every pending promise job (and the jobs they queue) run. */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A clock that moves only when the test says so. `advance(ms)` fires due timers in time order,
 * letting promise jobs run after each, so keel's timers, backoffs and deadlines replay exactly.
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers: ManualTimer[] = []
  readonly wallEpoch: number

  constructor(start = 1_000, wallEpoch = Date.UTC(2026, 0, 1)) {
    this.#now = start
    this.wallEpoch = wallEpoch
  }

  now(): number {
    return this.#now
  }

  wallNow(): number {
    return this.wallEpoch + this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), seq: ++this.#seq, fn, cleared: false }
    this.#timers.push(timer)
    return timer
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as ManualTimer
    timer.cleared = true
    const i = this.#timers.indexOf(timer)
    if (i !== -1) this.#timers.splice(i, 1)
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length
  }

  /** Moves time forward by `ms`, firing due timers in order and flushing promise jobs after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    await flush(1)
    for (;;) {
      let next: ManualTimer | undefined
      for (const t of this.#timers) {
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      }
      if (next === undefined) break
      this.#timers.splice(this.#timers.indexOf(next), 1)
      if (next.at > this.#now) this.#now = next.at
      next.fn()
      await flush(1)
    }
    this.#now = target
    await flush()
  }

  /** Sets the time without firing anything (for tests of pure functions of time). */
  set(now: number): void {
    this.#now = now
  }
}
