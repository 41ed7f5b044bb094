import type { PickerEndpoint } from '../model/picker.ts'

/**
 * Whether every endpoint has the same effective weight. Pickers take their unweighted fast path
 * then (as Envoy does when no two host weights differ); slow start or unequal static weights send
 * them to the weighted one until the weights are equal again.
 */
export function allWeightsEqual(endpoints: readonly PickerEndpoint[]): boolean {
  const n = endpoints.length
  if (n < 2) return true
  const first = endpoints[0]!.weight
  for (let i = 1; i < n; i++) if (endpoints[i]!.weight !== first) return false
  return true
}
