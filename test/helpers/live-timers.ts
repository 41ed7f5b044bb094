import { createHook } from 'node:async_hooks'

/**
 * Counts live timers with an `async_hooks` hook: unref'd timers do not show in
 * `process.getActiveResourcesInfo()`, so a leak check has to watch their creation and
 * destruction. `live()` is the number created since `start()` and not yet destroyed.
 */
export function trackTimers() {
  const live = new Set<number>()
  const hook = createHook({
    init(asyncId, type) {
      if (type === 'Timeout') live.add(asyncId)
    },
    destroy(asyncId) {
      live.delete(asyncId)
    },
  })
  return {
    start() {
      hook.enable()
    },
    stop() {
      hook.disable()
    },
    live(): number {
      return live.size
    },
  }
}
