import { vi } from 'vitest'

/**
 * Runs queued microtasks in place and keeps what they throw: keel rethrows a user callback's
 * error (listener, classifier, shouldRetry) on a microtask, where it would otherwise fail the run.
 */
export function capturingMicrotasks(): { thrown: unknown[]; restore: () => void } {
  const thrown: unknown[] = []
  const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((job) => {
    try {
      job()
    } catch (error) {
      thrown.push(error)
    }
  })
  return { thrown, restore: () => spy.mockRestore() }
}
