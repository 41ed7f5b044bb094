import { createHook } from 'node:async_hooks'

/** Frames of the test runner: its own timers (a hook's deadline, its RPC) are not the code's. */
const RUNNER = /[\\/]node_modules[\\/](?:vitest|@vitest|tinypool|birpc)[\\/]/

/**
 * Whether the runner itself created the timer: the first frame below Node's timer internals (and
 * this hook) is the runner's. Every timer's stack ends in the runner, which calls the test.
 */
function byRunner(stack: string): boolean {
  for (const line of stack.split('\n').slice(1)) {
    if (line.includes('(node:') || line.includes(' node:') || line.includes('live-timers.ts')) continue
    return RUNNER.test(line)
  }
  return false
}

/**
 * Counts live timers with an `async_hooks` hook: unref'd timers do not show in
 * `process.getActiveResourcesInfo()`, so a leak check has to watch their creation and
 * destruction. `live()` is the number created since `start()` and not yet destroyed, leaving out
 * the ones vitest makes meanwhile (a hook's deadline timer is created while a test still tracks).
 * `where()` says where each live one was created: a leak check once failed in CI on one live
 * timer that nothing named.
 */
export function trackTimers() {
  const live = new Map<number, string>()
  const hook = createHook({
    init(asyncId, type) {
      if (type !== 'Timeout') return
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 16
      const stack = new Error('timer created').stack ?? ''
      Error.stackTraceLimit = limit
      if (!byRunner(stack)) live.set(asyncId, stack)
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
    /** Where each live timer was created, for an assertion's message. */
    where(): string {
      return [...live.values()].join('\n\n')
    },
  }
}
