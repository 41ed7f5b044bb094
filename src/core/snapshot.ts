import type { RetryBudget } from '../call/budget.ts'
import type { Clock } from '../internal/clock.ts'
import { Detector } from '../model/detector.ts'
import type { EndpointStateName } from '../model/endpoint-state-name.ts'
import type { EndpointSet } from './endpoint-set.ts'
import type { EndpointState } from './endpoint-state.ts'

export type { EndpointStateName }

/** What a snapshot reads. */
export interface SnapshotSource {
  readonly clock: Clock
  readonly set: Pick<EndpointSet, 'members' | 'draining' | 'panicking'>
  readonly budget: RetryBudget | undefined
}

/** One endpoint in `balancer.snapshot()`. */
export interface EndpointSnapshot {
  readonly id: string
  readonly weight: number
  readonly priority: number
  readonly zone: string | null
  /** The first of draining > unhealthy > ejected > open > half-open > active that applies. */
  readonly state: EndpointStateName
  /** Every state that applies. */
  readonly states: readonly EndpointStateName[]
  readonly inFlight: number
  /** PeakEWMA latency estimate now, in ms. */
  readonly ewmaMs: number
  /** Attempts ended, cancelled ones excluded. */
  readonly requests: number
  /** Attempts ended with `endpoint-failure` or `not-sent`. */
  readonly failures: number
  /** Times the endpoint was ejected, by any detector. */
  readonly ejections: number
}

/** `balancer.snapshot()`: a JSON-serialisable view of the balancer now. */
export interface BalancerSnapshot {
  readonly endpoints: readonly EndpointSnapshot[]
  /** Priority levels in panic (balancing over all their members). */
  readonly panic: readonly number[]
  /** The retry budget now, or null when it is off. */
  readonly retryBudget: { readonly available: number; readonly calls: number; readonly retries: number } | null
}

export function statesOf(state: EndpointState): EndpointStateName[] {
  const states: EndpointStateName[] = []
  if (state.draining) states.push('draining')
  if ((state.ejectedBy & Detector.health) !== 0) states.push('unhealthy')
  // A breaker's ejection shows as `ejected` while it is open; half-open, it admits its trial.
  const breakerEjected = (state.ejectedBy & Detector.breaker) !== 0 && state.breakerPhase === 'open'
  if (breakerEjected || (state.ejectedBy & (Detector.outlier | Detector.overload | Detector.shared)) !== 0)
    states.push('ejected')
  if (state.breakerPhase === 'open') states.push('open')
  if (state.breakerPhase === 'half-open') states.push('half-open')
  if (states.length === 0) states.push('active')
  return states
}

/** A JSON-serialisable view of the balancer: members first (by id), then draining endpoints. */
export function takeSnapshot(core: SnapshotSource): BalancerSnapshot {
  const now = core.clock.now()
  const byId = (a: EndpointState, b: EndpointState) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const states = [...[...core.set.members.values()].sort(byId), ...[...core.set.draining.values()].sort(byId)]
  const endpoints = states.map((state): EndpointSnapshot => {
    const list = statesOf(state)
    return {
      id: state.id,
      weight: state.endpoint.weight,
      priority: state.endpoint.priority,
      zone: state.endpoint.zone ?? null,
      state: list[0]!,
      states: list,
      inFlight: state.inFlight,
      ewmaMs: Math.round(state.latencyMs(now) * 1000) / 1000,
      requests: state.requests,
      failures: state.failures,
      ejections: state.ejections,
    }
  })
  const budget = core.budget
  return {
    endpoints,
    panic: core.set.panicking,
    retryBudget: budget === undefined ? null : { available: budget.available(now), ...budget.counts(now) },
  }
}
