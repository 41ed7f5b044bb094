import { abortReason } from './abort.ts'

/** Something a signal's abort ends (a call). */
export interface AbortWatcher {
  onAbort(reason: unknown): void
}

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>()

/**
 * Registers `watcher` to hear `signal`'s abort. One listener per signal, whatever the number of
 * calls watching it: adding and removing an `abort` listener per call costs ~240 ns on Node 22/24
 * (removal is the dear part); a per-signal set costs a `Set.add` and a `Set.delete`. The listener
 * stays on the signal until it aborts or is collected, holding only an empty set between calls.
 * Returns the set, for `unwatchAbort`.
 */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): Set<AbortWatcher> {
  let set = watchers.get(signal)
  if (set === undefined) {
    const calls = new Set<AbortWatcher>()
    set = calls
    watchers.set(signal, calls)
    signal.addEventListener(
      'abort',
      () => {
        const reason = abortReason(signal)
        for (const call of [...calls]) call.onAbort(reason)
        calls.clear()
      },
      { once: true },
    )
  }
  set.add(watcher)
  return set
}
