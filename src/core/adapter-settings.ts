import type { ResolvedOptions } from '../options/resolved-options.ts'
import type { AdapterSettings } from './ports.ts'

/** The balancer-wide settings an adapter reads (`AdapterPort.settings`). */
export function adapterSettings(options: ResolvedOptions): AdapterSettings {
  return {
    retry: options.retry,
    timeout: options.timeout,
    attemptTimeout: options.attemptTimeout,
    healthCheck: options.healthCheck,
    maxConnectionAge: options.maxConnectionAge,
    drainTimeout: options.drainTimeout,
  }
}
