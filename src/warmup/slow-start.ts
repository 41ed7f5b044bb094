import type { BalancerPort, EndpointState, TimerEntry } from '../core/ports.ts'
import type { ResolvedSlowStart } from './slow-start-options.ts'

/** What slow start remembers of an endpoint between two rebuilds. */
interface RampRecord {
  eligible: boolean
  /** `activeSince` seen last: a change means the endpoint was added again (revived from a drain). */
  activeSince: number
  /** `ejections` seen last: a change means it was ejected in between, even if already restored. */
  ejections: number
  /** Clock time its current ramp started (-Infinity: not ramping). */
  rampFrom: number
}

/**
 * How often weights are recomputed while an endpoint ramps: a hundredth of the window (weights are
 * then never more than 1% of the full weight behind the formula), at least every second, and no
 * more often than every 50 ms. The snapshot is rebuilt at each step; the last one lands exactly on
 * the end of the earliest ramp.
 */
export function rampStep(window: number): number {
  return Math.min(1_000, Math.max(50, window / 100))
}

/**
 * Envoy's slow-start factor (`EdfLoadBalancerBase::applySlowStartFactor`, documented under
 * "Slow start mode"): weight × max(time_factor^(1 / aggression), min_weight_percent / 100), where
 * time_factor = max(1 ms, time since the ramp started) / window, until the window has passed.
 * (Envoy's docs write the floor as 1 s; its code uses 1 ms.)
 */
export function slowStartFactor(elapsedMs: number, config: ResolvedSlowStart): number {
  if (elapsedMs >= config.window) return 1
  const t = Math.max(1, elapsedMs) / config.window
  const f = config.aggression === 1 ? t : t ** (1 / config.aggression)
  return Math.max(f, config.minWeightPercent / 100)
}

/**
 * Slow start (Envoy `slow_start_config`): returns the hook the endpoint set calls before each
 * rebuild to set every member's effective weight, or undefined when slow start is off. The hub
 * does not ask when the picker does not take it (hash pickers, `PickerFactory.slowStart === false`: their ring or table
 * uses static weights only, as in Envoy, where slow start exists only for ROUND_ROBIN and
 * LEAST_REQUEST).
 *
 * A ramp starts when an endpoint joins a balancer that already had members, when a draining one
 * is revived, and when an endpoint turns eligible again after being ineligible for any reason
 * (ejected by the breaker, outlier detection or an active check, paused by Retry-After) — Envoy
 * restarts the ramp when an active check turns a host healthy again. The balancer's first set of
 * endpoints does not ramp: with nothing warm beside them, ramping them all together changes no
 * share. While any endpoint ramps, a background timer rebuilds the snapshot every `rampStep`.
 */
export function slowStartWeights(
  core: Pick<BalancerPort, 'timers' | 'invalidate'>,
  config: ResolvedSlowStart | false,
): ((states: Iterable<EndpointState>, now: number) => void) | undefined {
  if (config === false) return undefined
  const records = new WeakMap<EndpointState, RampRecord>()
  const step = rampStep(config.window)
  let started = false
  let tick: TimerEntry | undefined
  const onTick = () => {
    tick = undefined
    core.invalidate()
  }
  return (states, now) => {
    let nextEnd = Number.POSITIVE_INFINITY
    let any = false
    for (const state of states) {
      any = true
      const eligible = state.eligible
      let record = records.get(state)
      if (record === undefined) {
        const from = started && eligible ? state.activeSince : Number.NEGATIVE_INFINITY
        record = { eligible, activeSince: state.activeSince, ejections: state.ejections, rampFrom: from }
        records.set(state, record)
      } else {
        if (state.activeSince !== record.activeSince) {
          record.rampFrom = eligible ? state.activeSince : Number.NEGATIVE_INFINITY
        } else if (eligible && (!record.eligible || state.ejections !== record.ejections)) {
          record.rampFrom = now
        }
        record.eligible = eligible
        record.activeSince = state.activeSince
        record.ejections = state.ejections
      }
      const base = state.endpoint.weight
      const elapsed = now - record.rampFrom
      if (eligible && elapsed < config.window) {
        state.weight = base * slowStartFactor(elapsed, config)
        const end = record.rampFrom + config.window
        if (end < nextEnd) nextEnd = end
      } else {
        state.weight = base
      }
    }
    if (any) started = true
    if (nextEnd !== Number.POSITIVE_INFINITY && tick === undefined) {
      tick = core.timers.schedule(Math.min(now + step, nextEnd), onTick)
    }
  }
}
