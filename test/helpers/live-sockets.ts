import { createHook } from 'node:async_hooks'

/**
 * Counts live client sockets with an `async_hooks` hook (unref'd sockets do not show in
 * `process.getActiveResourcesInfo()`). A TCP handle whose trigger is a listening server handle
 * created since `start()` is that server's accepted connection; every other one is a client
 * socket. Start it before the servers, so their listening handles are known.
 */
export function trackSockets() {
  const servers = new Set<number>()
  const clients = new Set<number>()
  const accepted = new Set<number>()
  let created = 0
  let onDrained: (() => void) | undefined
  let waiting: { readonly n: number; readonly resolve: () => void } | undefined
  const hook = createHook({
    init(asyncId, type, triggerAsyncId) {
      if (type === 'TCPSERVERWRAP') servers.add(asyncId)
      else if (type === 'TCPWRAP' || type === 'TLSWRAP') {
        if (servers.has(triggerAsyncId) || accepted.has(triggerAsyncId)) accepted.add(asyncId)
        else {
          clients.add(asyncId)
          created++
        }
      }
    },
    destroy(asyncId) {
      clients.delete(asyncId)
      accepted.delete(asyncId)
      if (waiting !== undefined && clients.size <= waiting.n) {
        const { resolve } = waiting
        waiting = undefined
        resolve()
      }
      if (clients.size === 0 && onDrained !== undefined) {
        const resolve = onDrained
        onDrained = undefined
        resolve()
      }
    },
  })
  return {
    start() {
      hook.enable()
    },
    stop() {
      hook.disable()
    },
    /** Client sockets created since `start()` and not yet destroyed. */
    live(): number {
      return clients.size
    },
    /** Resolves when no client socket is left (at once if none is). */
    drained(): Promise<void> {
      if (clients.size === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        onDrained = resolve
      })
    },
    /** Resolves when at most `n` client sockets are left (at once if so). */
    droppedTo(n: number): Promise<void> {
      if (clients.size <= n) return Promise.resolve()
      return new Promise<void>((resolve) => {
        waiting = { n, resolve }
      })
    },
    /** Client sockets created since `start()`. */
    created(): number {
      return created
    },
  }
}
