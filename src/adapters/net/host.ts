import type { Balancer } from '../../balancer.ts'
import type { Clock } from '../../internal/clock.ts'
import { coreOf } from '../../internal/core-of.ts'
import type { Random } from '../../internal/random.ts'

/**
 * What the L4 adapter needs from a balancer beyond `balancer.call`: its clock and random (connect
 * timeouts and connection ages run on them, so tests drive them) and the two endpoint lifetime
 * settings that apply to connections, `maxConnectionAge` and `drainTimeout`.
 */
export interface NetHost {
  readonly balancer: Balancer<unknown>
  readonly clock: Clock
  readonly random: Random
  /** ms, or undefined when the balancer has no `maxConnectionAge`. */
  readonly maxConnectionAge: number | undefined
  readonly drainTimeout: number
}

const hosts = new WeakMap<object, NetHost>()

/** The balancer's host, made once per balancer. Throws a `TypeError` naming `option` otherwise. */
export function netHost(balancer: unknown, option = 'balancer'): NetHost {
  const known = hosts.get(balancer as object)
  if (known !== undefined) return known
  const core = coreOf(balancer, option)
  const host: NetHost = {
    balancer: balancer as Balancer<unknown>,
    clock: core.clock,
    random: core.random,
    maxConnectionAge: core.options.maxConnectionAge,
    drainTimeout: core.options.drainTimeout,
  }
  hosts.set(balancer as object, host)
  return host
}
