import type { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import type { AdapterPort } from '../../core/ports.ts'
import type { CallOptions } from '../../options/options.ts'

/** Every timer's upper bound (2³¹−1 ms): a per-call override that in effect removes a default. */
const FOREVER = 2_147_483_647

/**
 * What the L4 adapter keeps per balancer: its adapter port (clock and random for connect timeouts
 * and connection ages, `maxConnectionAge` and `drainTimeout`, attempt control) and the options of
 * its calls. A connection is one attempt for as long as it is open, so the balancer's call
 * `timeout` and `attemptTimeout` must not cut it: `connect()` overrides them with the longest
 * timer (its own `timeout` bounds each connection attempt, and `established()` disarms the rest).
 */
export interface NetHost {
  readonly balancer: Balancer<unknown>
  readonly port: AdapterPort
  /**
   * `balancer.call` options without a key or signal: undefined (the balancer's defaults, resolved
   * once) unless the balancer has a `timeout` or `attemptTimeout` to override.
   */
  readonly callOptions: CallOptions | undefined
}

const hosts = new WeakMap<object, NetHost>()

/** The balancer's host, made once per balancer. Throws a `TypeError` naming `option` otherwise. */
export function netHost(balancer: unknown, option = 'balancer'): NetHost {
  const known = hosts.get(balancer as object)
  if (known !== undefined) return known
  const port = adapterPort(balancer, option)
  const { timeout, attemptTimeout } = port.settings
  const host: NetHost = {
    balancer: balancer as Balancer<unknown>,
    port,
    // Calls are not idempotent by default (so never hedged); passing no options skips resolving
    // them on each connection.
    callOptions:
      timeout === undefined && attemptTimeout === undefined
        ? undefined
        : Object.freeze({
            idempotent: false,
            ...(timeout === undefined ? {} : { timeout: FOREVER }),
            ...(attemptTimeout === undefined ? {} : { attemptTimeout: FOREVER }),
          }),
  }
  hosts.set(balancer as object, host)
  return host
}
