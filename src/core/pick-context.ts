import type { PickContext, PickerEndpoint } from '../model/picker.ts'
import type { EndpointState } from './endpoint-state.ts'

/** The reusable per-pick context; `stamp` identifies the pick for `skipped`. */
export class PickContextImpl implements PickContext {
  now = 0
  hasKey = false
  hashHi = 0
  hashLo = 0
  maxInFlight: number
  totalInFlight = 0
  stamp = 0

  constructor(maxInFlight: number) {
    this.maxInFlight = maxInFlight
  }

  skipped(endpoint: PickerEndpoint): boolean {
    return (endpoint as EndpointState).skipStamp === this.stamp
  }
}
