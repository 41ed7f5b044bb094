/** Result of a closed loop: how many calls succeeded and the errors of those that failed. */
export interface LoopResult {
  readonly ok: number
  readonly errors: unknown[]
}

/**
 * Runs `total` calls of `fn` with `concurrency` in flight at once (each worker starts its next
 * call when its previous one settles), and collects failures instead of stopping at the first.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<LoopResult> {
  let next = 0
  let ok = 0
  const errors: unknown[] = []
  const worker = async () => {
    while (next < total) {
      const i = next++
      try {
        await fn(i)
        ok++
      } catch (error) {
        errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ok, errors }
}
