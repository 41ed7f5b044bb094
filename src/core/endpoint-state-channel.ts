import { channels } from '../diagnostics/channels.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { EndpointState } from './endpoint-state.ts'
import { statesOf } from './snapshot.ts'

/** The events that change an endpoint's state, published on `keel:endpoint:state`. */
const CHANGES: ReadonlySet<string> = new Set([
  'endpointAdded',
  'endpointRemoved',
  'ejected',
  'restored',
  'breakerOpen',
  'breakerHalfOpen',
  'breakerClose',
  'healthy',
  'unhealthy',
])

interface StateSource {
  readonly emitter: object
  find(id: string): EndpointState | undefined
}

/**
 * Publishes a balancer event that changed an endpoint's state on `keel:endpoint:state`, with the
 * state it is in now, when the channel has subscribers (one property read otherwise).
 */
export function publishEndpointState(source: StateSource, event: string, payload: unknown): void {
  if (!channels.endpointState.hasSubscribers || !CHANGES.has(event)) return
  const { endpoint, detector, reason } = payload as { endpoint: Endpoint<unknown>; detector?: string; reason?: string }
  const state = source.find(endpoint.id)
  channels.endpointState.publish({
    balancer: source.emitter,
    endpoint,
    change: event,
    state: state === undefined ? 'draining' : statesOf(state)[0],
    ...(detector === undefined ? {} : { detector }),
    ...(reason === undefined ? {} : { reason }),
  })
}
