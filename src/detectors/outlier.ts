import type { AttachedDetector, Core } from '../core.ts'

/**
 * Passive outlier detection (DESIGN §3, Envoy outlier detection, gRPC A50). Not built yet: the
 * outlier issue replaces this stub.
 */
export function createOutlierDetector(_core: Core): AttachedDetector | undefined {
  return undefined
}
