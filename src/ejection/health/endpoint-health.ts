import type { BalancerPort, EndpointState, TimerEntry } from '../../core/ports.ts'
import { Detector } from '../../model/detector.ts'
import type { ResolvedHealthCheck } from './health-options.ts'

/**
 * - `unknown`: not checked yet and eligible (the start-up set, or no implementation installed);
 * - `awaiting`: joined after start, ejected until its first check passes;
 * - `healthy` / `unhealthy`: decided by the checks.
 */
export type HealthStatus = 'unknown' | 'awaiting' | 'healthy' | 'unhealthy'

/**
 * One endpoint's active-health state (`EndpointState.health`) and the scheduler's bookkeeping.
 *
 * Thresholds as Envoy's `healthy_threshold` / `unhealthy_threshold` and HAProxy's `rise` / `fall`:
 * a healthy endpoint turns unhealthy on the `unhealthyThreshold`-th consecutive failed check, an
 * unhealthy one healthy on the `healthyThreshold`-th consecutive passing check. The first check
 * of an endpoint decides alone, either way (Envoy: "during startup, only a single successful
 * health check is required to mark a host healthy"; a first failure marks it unhealthy).
 */
export class EndpointHealth {
  readonly state: EndpointState
  status: HealthStatus = 'unknown'
  /** Consecutive passing and failing checks. */
  passes = 0
  failures = 0
  /** The scheduled next check. */
  next: TimerEntry | undefined
  /** The running check's timeout, until it settles or times out. */
  deadline: TimerEntry | undefined
  controller: AbortController | undefined
  /** The running check, settled (never rejects) once its implementation settles. */
  running: Promise<void> | undefined
  runningBuiltIn = false
  /** A check came due while the previous one was still within its timeout. */
  due = false
  detached = false
  readonly #core: Pick<BalancerPort, 'ejection' | 'emit'>
  readonly #options: ResolvedHealthCheck

  constructor(state: EndpointState, core: Pick<BalancerPort, 'ejection' | 'emit'>, options: ResolvedHealthCheck) {
    this.state = state
    this.#core = core
    this.#options = options
  }

  /** An endpoint that joined after start takes no traffic before a check passed (docs/health-checks.md). */
  awaitFirstCheck(): void {
    this.status = 'awaiting'
    this.#core.ejection.eject(this.state, 'health', 'awaiting first check')
  }

  pass(): void {
    this.failures = 0
    this.passes++
    const state = this.state
    // A passing check lifts an outlier ejection (Envoy `successful_active_health_check_uneject_host`,
    // on by default): the endpoint answers its checks, so let traffic confirm it.
    if ((state.ejectedBy & Detector.outlier) !== 0) this.#core.ejection.restore(state, 'outlier', 'health check passed')
    const was = this.status
    if (was === 'healthy' || (was === 'unhealthy' && this.passes < this.#options.healthyThreshold)) return
    this.status = 'healthy'
    if (was !== 'unknown') {
      const reason =
        was === 'awaiting'
          ? `first ${this.#options.type} check passed`
          : `${this.#options.type} check passed ${this.passes} times in a row`
      this.#core.ejection.restore(state, 'health', reason)
    }
    this.#core.emit('healthy', { endpoint: state.endpoint, check: this.#options.type })
  }

  fail(reason: string): void {
    this.passes = 0
    this.failures++
    const was = this.status
    if (was === 'unhealthy' || (was === 'healthy' && this.failures < this.#options.unhealthyThreshold)) return
    this.status = 'unhealthy'
    // An `awaiting` endpoint is already ejected by the health detector: the ejection stands.
    if (was !== 'awaiting') {
      const detail =
        was === 'unknown'
          ? `first ${this.#options.type} check failed`
          : `${this.#options.type} check failed ${this.failures} times in a row`
      this.#core.ejection.eject(this.state, 'health', `${detail}: ${reason}`)
    }
    this.#core.emit('unhealthy', { endpoint: this.state.endpoint, check: this.#options.type })
  }
}
