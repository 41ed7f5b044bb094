import type { Core } from '../core/core.ts'
import { typeError } from './validate.ts'

/** Where adapters from either build (ESM or CJS) reach a balancer's internals. */
export const CORE = Symbol.for('keel.core')

/**
 * The internals of a balancer from either build (adapters never use `instanceof`: a balancer made
 * by the CJS build reaches an adapter loaded from the ESM build in mixed setups, Jest among them).
 */
export function coreOf(balancer: unknown, option = 'balancer'): Core {
  const core =
    typeof balancer === 'object' && balancer !== null ? (balancer as Record<symbol, unknown>)[CORE] : undefined
  if (core === undefined) throw typeError(option, 'a keel Balancer', balancer)
  return core as Core
}
