import { rangeError, typeError } from '../internal/validate.ts'
import { type EndpointInput, parseEndpoint } from '../model/endpoint.ts'
import type { Discovery, DiscoveryUpdate } from './discovery.ts'

/** A discovery source whose set you push yourself: tests, or a registry client you wire up. */
export interface StaticDiscovery extends Discovery {
  /** Replaces the set: every watching balancer diffs it against its own (ids that stay keep state). */
  update(endpoints: readonly EndpointInput[]): void
  /** The last set given (`undefined` before the first). */
  readonly endpoints: readonly EndpointInput[] | undefined
}

/**
 * A source that answers with the list it was given, and with each list passed to `update()`.
 * A watcher gets the current list at once (synchronously), so a balancer built on a
 * `staticDiscovery([...])` can take calls right away; `staticDiscovery()` without a list has not
 * answered yet, and calls wait for the first `update()` (docs/discovery.md, "The first answer").
 *
 * Lists are checked when given (a bad endpoint throws here, naming `endpoints[i]`); they are
 * handed to balancers as given, so each balancer applies its own `servername` default.
 */
export function staticDiscovery(endpoints?: readonly EndpointInput[]): StaticDiscovery {
  const listeners = new Set<(update: DiscoveryUpdate) => void>()
  let current = endpoints === undefined ? undefined : check(endpoints)
  return {
    get endpoints() {
      return current
    },
    watch(listener) {
      if (typeof listener !== 'function') throw typeError('listener', 'a function', listener)
      listeners.add(listener)
      if (current !== undefined) listener({ endpoints: current })
      return () => {
        listeners.delete(listener)
      }
    },
    update(next) {
      const snapshot = check(next)
      current = snapshot
      for (const listener of [...listeners]) listener({ endpoints: snapshot })
    },
  }
}

function check(endpoints: readonly EndpointInput[]): readonly EndpointInput[] {
  if (!Array.isArray(endpoints)) throw typeError('endpoints', 'an array of endpoints', endpoints)
  const copy = Object.freeze([...endpoints])
  const seen = new Map<string, number>()
  copy.forEach((endpoint, i) => {
    const { id } = parseEndpoint(endpoint, { option: `endpoints[${i}]` })
    const first = seen.get(id)
    if (first !== undefined)
      throw rangeError(`endpoints[${i}]`, `an endpoint not already listed (same id as endpoints[${first}])`, endpoint)
    seen.set(id, i)
  })
  return copy
}
