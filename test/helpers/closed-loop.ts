/** Result of a closed loop: how many calls succeeded and the errors of those that failed. */
export interface LoopResult {
  readonly ok: number
  readonly errors: unknown[]
}

export interface LoopOptions {
  /** A `performance.now()` time after which no worker starts another call. */
  readonly until?: number
  /** Receives each successful call's latency in ms, in the order calls end. */
  readonly latencies?: number[]
}

/**
 * Runs `total` calls of `fn` with `concurrency` in flight at once (each worker starts its next
 * call when its previous one settles), and collects failures instead of stopping at the first.
 * The benchmarks' load generator too (`bench/lib.ts`), bounded by time with `until`.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
  { until = Number.POSITIVE_INFINITY, latencies }: LoopOptions = {},
): Promise<LoopResult> {
  let next = 0
  let ok = 0
  const errors: unknown[] = []
  const worker = async () => {
    while (next < total && (until === Number.POSITIVE_INFINITY || performance.now() < until)) {
      const i = next++
      const started = latencies === undefined ? 0 : performance.now()
      try {
        await fn(i)
        ok++
        latencies?.push(performance.now() - started)
      } catch (error) {
        errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ok, errors }
}
