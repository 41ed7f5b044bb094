import type { AttachedDetector, Core } from '../core.ts'

/** Active health checks (DESIGN §3). Not built yet: the health-check issue replaces this stub. */
export function createHealthChecker(_core: Core): AttachedDetector | undefined {
  return undefined
}
