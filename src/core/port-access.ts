import { typeError } from '../internal/validate.ts'
import type { Core } from './core.ts'
import type { AdapterPort, AddOnPort } from './ports.ts'

/** Where adapters and add-ons from either build (ESM or CJS) reach a balancer's hub. */
export const CORE = Symbol.for('keel.core')

/**
 * The hub of a balancer from either build (never `instanceof`: a balancer made by the CJS build
 * reaches an adapter loaded from the ESM build in mixed setups, Jest among them). For keel's own
 * wiring and tests; adapters use `adapterPort`, add-ons `addOnPort`.
 */
export function coreOf(balancer: unknown, option = 'balancer'): Core {
  const core =
    typeof balancer === 'object' && balancer !== null ? (balancer as Record<symbol, unknown>)[CORE] : undefined
  if (core === undefined) throw typeError(option, 'a keel Balancer', balancer)
  return core as Core
}

/**
 * What an adapter (`keel/fetch`, `keel/undici`, `keel/axios`, `keel/grpc`) may ask of `balancer`.
 * Throws a `TypeError` naming `option` when `balancer` is not a keel Balancer.
 */
export function adapterPort(balancer: unknown, option = 'balancer'): AdapterPort {
  return coreOf(balancer, option)
}

/**
 * What an add-on entry point (a metrics exporter, shared health) may do to an existing `balancer`:
 * add attempt and member observers and ejection listeners, eject and restore endpoints through the
 * one ejection state. Throws a `TypeError` naming `option` when `balancer` is not a keel Balancer.
 */
export function addOnPort(balancer: unknown, option = 'balancer'): AddOnPort {
  return coreOf(balancer, option).addOns
}
