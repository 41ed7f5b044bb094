import type { EndpointState } from '../core/ports.ts'
import { bandEdgeMs } from '../model/noise-band.ts'

/**
 * The floor of a failure's penalty (`PeakEwma.penalize`): the top of the noise band over the
 * fastest last-known latency among the endpoint's peers (the other pickable members of its
 * priority level). A failing endpoint sits out while its estimate decays; if its peers then went
 * quiet too, the estimate may have decayed toward 0, and doubling ~0 charges nothing. Charging at
 * least twice the band's top puts it outside the band of that peer after any failure — compared
 * by latency, not by requests in flight, so it loses — and doubling does the rest. The fastest,
 * not the median or the slowest: penalised peers cannot raise it, so frequent failures across
 * the set never feed on each other. O(peers), paid only on failures.
 */
export function failureFloorMs(members: Iterable<EndpointState>, state: EndpointState): number {
  const priority = state.endpoint.priority
  let fastest = Number.POSITIVE_INFINITY
  for (const m of members) {
    if (m === state || !m.pickable || m.endpoint.priority !== priority) continue
    const ms = m.load.storedMs
    if (ms < fastest) fastest = ms
  }
  return fastest === Number.POSITIVE_INFINITY ? 0 : bandEdgeMs(fastest)
}
