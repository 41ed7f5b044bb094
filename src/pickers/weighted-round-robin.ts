import type { PickerFactory } from '../model/picker.ts'
import { buildRotation } from './round-robin.ts'

/**
 * Smooth weighted round-robin (nginx's `weight=`, Envoy's weighted ROUND_ROBIN): over every
 * cycle of Σweights picks each endpoint gets exactly its weight, interleaved rather than in
 * bursts (see `SmoothWeightedPicker`). With equal weights it is plain rotation. keel's
 * `round-robin` is the same picker under the name gRPC users look for.
 */
export function weightedRoundRobin(): PickerFactory {
  return { name: 'weighted-round-robin', build: buildRotation }
}
