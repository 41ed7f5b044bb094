/**
 * Where keel reads time and schedules waits. Every algorithm takes its time from here, so tests
 * drive keel with a manual clock and production uses the system one.
 */
export interface Clock {
  /** Monotonic milliseconds on any epoch. Read once per call and passed down. */
  now(): number
  /** Wall-clock milliseconds since the Unix epoch, used only to read HTTP-date `Retry-After`. */
  wallNow(): number
  /**
   * Runs `fn` after `ms`. Timers are `unref`'d, as `AbortSignal.timeout()`'s are: deadlines and
   * attempt timeouts run beside an attempt whose I/O keeps the process alive. `keepAlive` is true
   * only for a retry's wait, when nothing of the call is in flight: the process stays alive for it
   * like for any awaited timer.
   */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle
  /** Cancels a timer `setTimeout` returned; a timer that already ran is ignored. */
  clearTimeout(handle: TimerHandle): void
  /**
   * Optional: makes a pending timer keep the process alive or not (Node's `ref`/`unref`). Without
   * it keel re-arms the timer when that changes, which costs more.
   */
  keepAlive?(handle: TimerHandle, keepAlive: boolean): void
}

/** An opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown

/**
 * The system clock: `performance.now()` (monotonic) and `setTimeout`, unref'd unless asked. Globals are read at
 * call time, so test frameworks that fake timers after import still see every timer.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn: () => void, ms: number, keepAlive = false): TimerHandle {
    const timer = setTimeout(fn, ms)
    if (!keepAlive) timer.unref?.()
    return timer
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
  keepAlive(handle: TimerHandle, keepAlive: boolean): void {
    const timer = handle as ReturnType<typeof setTimeout>
    if (keepAlive) timer.ref?.()
    else timer.unref?.()
  },
})
