import type { Core } from '../../core/core.ts'

/**
 * A per-endpoint resource name not yet taken on this balancer: `base` for the first adapter
 * instance, `base#2`, `base#3`… for the next, so two dispatchers with different pool options
 * each keep their own pools.
 */
export function uniqueResourceName(core: Core, base: string): string {
  let name = base
  for (let i = 2; core.resources.has(name); i++) name = `${base}#${i}`
  return name
}
