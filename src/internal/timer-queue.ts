import type { Clock, TimerHandle } from './clock.ts'

/** A scheduled callback. `index` is its slot in the heap, -1 once it fired or was cancelled. */
export interface TimerEntry {
  at: number
  index: number
  fire: () => void
  /** A pending call waits on it: the clock timer must keep the process alive. */
  keepAlive: boolean
}

/**
 * Every deadline, attempt timeout, backoff and hedge delay of a balancer shares one clock timer:
 * a binary min-heap of entries, with the clock timer armed for the earliest one. Scheduling or
 * cancelling costs O(log n) in the entries pending. The clock timer is re-armed only when a new
 * entry is earlier than the armed time, and it stays armed when entries are cancelled (firing
 * early is harmless: it re-arms for the new earliest entry), so steady traffic with one timeout
 * value touches the clock timer about once per timeout period instead of twice per call. Whether
 * it keeps the process alive follows the `keepAlive` entries pending, through `Clock.keepAlive`.
 */
export class TimerQueue {
  readonly #clock: Clock
  readonly #heap: TimerEntry[] = []
  #armedAt = Number.POSITIVE_INFINITY
  #handle: TimerHandle | undefined
  /** Pending entries with `keepAlive`, and whether the armed clock timer keeps the process alive. */
  #keepAlive = 0
  #armedKeepAlive = false
  #closed = false
  readonly #onTimer = () => this.#run()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get size(): number {
    return this.#heap.length
  }

  /**
   * Runs `fire` at clock time `at` (or at once, on the next timer turn, if `at` has passed).
   * Background work leaves `keepAlive` false; a wait a pending call depends on sets it, so the
   * process stays alive until the entry fires or is cancelled.
   */
  schedule(at: number, fire: () => void, keepAlive = false): TimerEntry {
    const entry: TimerEntry = { at, index: this.#heap.length, fire, keepAlive }
    if (this.#closed) {
      entry.index = -1
      return entry
    }
    this.#heap.push(entry)
    this.#up(entry.index)
    if (keepAlive && this.#keepAlive++ === 0 && this.#handle !== undefined) this.#setKeepAlive(true)
    if (at < this.#armedAt) this.#arm(at)
    return entry
  }

  /** Removes a pending entry; a fired or cancelled one is left alone. */
  cancel(entry: TimerEntry): void {
    const i = entry.index
    if (i < 0) return
    entry.index = -1
    if (entry.keepAlive && --this.#keepAlive === 0 && this.#handle !== undefined) this.#setKeepAlive(false)
    const heap = this.#heap
    const last = heap.pop()!
    if (i < heap.length) {
      heap[i] = last
      last.index = i
      this.#down(i)
      this.#up(last.index)
    }
  }

  /** Drops every entry and the clock timer; later `schedule` calls are ignored. */
  close(): void {
    this.#closed = true
    for (const entry of this.#heap) entry.index = -1
    this.#heap.length = 0
    this.#keepAlive = 0
    this.#disarm()
  }

  #arm(at: number): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle)
    this.#armedAt = at
    this.#armedKeepAlive = this.#keepAlive > 0
    this.#handle = this.#clock.setTimeout(this.#onTimer, Math.max(0, at - this.#clock.now()), this.#armedKeepAlive)
  }

  #setKeepAlive(keepAlive: boolean): void {
    if (keepAlive === this.#armedKeepAlive) return
    const clock = this.#clock
    if (clock.keepAlive !== undefined) {
      clock.keepAlive(this.#handle, keepAlive)
      this.#armedKeepAlive = keepAlive
    } else {
      this.#arm(this.#armedAt)
    }
  }

  #disarm(): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle)
    this.#handle = undefined
    this.#armedAt = Number.POSITIVE_INFINITY
    this.#armedKeepAlive = false
  }

  #run(): void {
    this.#handle = undefined
    this.#armedAt = Number.POSITIVE_INFINITY
    this.#armedKeepAlive = false
    const heap = this.#heap
    const now = this.#clock.now()
    while (heap.length > 0 && heap[0]!.at <= now) {
      const entry = heap[0]!
      this.cancel(entry)
      try {
        entry.fire()
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
    if (heap.length > 0 && !this.#closed) this.#arm(heap[0]!.at)
  }

  #up(i: number): void {
    const heap = this.#heap
    const entry = heap[i]!
    while (i > 0) {
      const parentIndex = (i - 1) >> 1
      const parent = heap[parentIndex]!
      if (parent.at <= entry.at) break
      heap[i] = parent
      parent.index = i
      i = parentIndex
    }
    heap[i] = entry
    entry.index = i
  }

  #down(i: number): void {
    const heap = this.#heap
    const n = heap.length
    const entry = heap[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      const right = child + 1
      if (right < n && heap[right]!.at < heap[child]!.at) child = right
      const c = heap[child]!
      if (c.at >= entry.at) break
      heap[i] = c
      c.index = i
      i = child
    }
    heap[i] = entry
    entry.index = i
  }
}
