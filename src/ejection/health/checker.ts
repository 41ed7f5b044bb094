import type { BalancerPort, EndpointState, MemberObserver } from '../../core/ports.ts'
import { BalancerClosedError, KeelError } from '../../model/errors.ts'
import { EndpointHealth } from './endpoint-health.ts'
import { failureReason, type HealthCheck, HealthCheckTimeoutError, type HealthCheckType } from './health-check.ts'
import type { ResolvedHealthCheck } from './health-options.ts'
import { httpCheck } from './http-check.ts'
import { tcpCheck } from './tcp-check.ts'

/** What health checks need from the balancer. */
export type HealthHost = Pick<BalancerPort, 'clock' | 'random' | 'timers' | 'ejection' | 'emit' | 'warn'>

/**
 * Active health checks (docs/health-checks.md): one scheduler for every endpoint, on the balancer's timer
 * queue. Each endpoint is checked every `interval` ± `jitter`% (HAProxy `spread-checks`), start
 * to start; a check has its own `timeout` and checks of one endpoint never overlap. Results feed
 * the ejection state as the `health` detector (see `EndpointHealth` for the thresholds).
 *
 * Start-up (docs/health-checks.md): the first set of endpoints the balancer gets (its `endpoints`, or the
 * first discovery answer: everything that joins in the same synchronous turn as the first one)
 * stays eligible until its first check completes; those first checks are spread over
 * `[0, interval × jitter%)`. An endpoint that joins later is ejected ('awaiting first check')
 * and checked at once.
 */
export class HealthChecker implements MemberObserver {
  readonly #core: HealthHost
  readonly #options: ResolvedHealthCheck
  readonly #checks = new Map<HealthCheckType, HealthCheck>()
  /** Checks that settle promptly once aborted: `close()` waits for their sockets to close. */
  readonly #builtIn = new WeakSet<HealthCheck>()
  readonly #records = new Set<EndpointHealth>()
  /** `KEEL_ALL_UNHEALTHY` was emitted and no check has passed since. */
  #warnedAll = false
  #startQueued = false
  #started = false
  #closed = false

  constructor(core: HealthHost, options: ResolvedHealthCheck) {
    this.#core = core
    this.#options = options
    const http = httpCheck(options)
    const tcp = tcpCheck()
    this.#builtIn.add(http).add(tcp)
    this.#checks.set('http', http).set('tcp', tcp)
    if (options.check !== undefined) this.#checks.set('custom', options.check)
  }

  /** Installs (or replaces) the implementation of a check type; starts checks that waited for it. */
  install(type: HealthCheckType, check: HealthCheck): void {
    this.#checks.set(type, check)
    if (type !== this.#options.type || this.#closed) return
    const now = this.#core.clock.now()
    for (const record of this.#records) {
      if (record.next === undefined && record.running === undefined) this.#schedule(record, now + this.#spread())
    }
  }

  attach(state: EndpointState): void {
    if (this.#closed) return
    const initial = !this.#started
    if (!this.#startQueued) {
      this.#startQueued = true
      queueMicrotask(() => {
        this.#started = true
      })
    }
    const record = new EndpointHealth(state, this.#core, this.#options)
    state.health = record
    this.#records.add(record)
    // Without an implementation (a `grpc` check before the gRPC adapter installs it) nothing runs
    // and the endpoint stays as it is.
    if (!this.#checks.has(this.#options.type)) return
    const now = this.#core.clock.now()
    if (initial) {
      this.#schedule(record, now + this.#spread())
    } else {
      record.awaitFirstCheck()
      this.#schedule(record, now)
    }
  }

  detach(state: EndpointState): void {
    const record = state.health as EndpointHealth | undefined
    if (record === undefined) return
    this.#stop(record, new KeelError('KEEL_ENDPOINT_REMOVED', `Endpoint ${state.id} was removed`))
    this.#records.delete(record)
    state.health = undefined
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const running: Promise<void>[] = []
    const reason = new BalancerClosedError()
    for (const record of this.#records) {
      if (record.running !== undefined && record.runningBuiltIn) running.push(record.running)
      this.#stop(record, reason)
    }
    this.#records.clear()
    await Promise.all(running)
  }

  #stop(record: EndpointHealth, reason: Error): void {
    record.detached = true
    if (record.next !== undefined) this.#core.timers.cancel(record.next)
    record.next = undefined
    if (record.deadline !== undefined) this.#core.timers.cancel(record.deadline)
    record.deadline = undefined
    record.controller?.abort(reason)
    record.controller = undefined
  }

  /** Delay of a first check: spread over `[0, interval × jitter%)` so N endpoints do not all fire at once. */
  #spread(): number {
    return this.#options.interval * (this.#options.jitter / 100) * this.#core.random()
  }

  /** `interval` ± `jitter`%: `interval × (1 + j × (2u − 1))`, u uniform in [0, 1). */
  #interval(): number {
    const { interval, jitter } = this.#options
    return interval * (1 + (jitter / 100) * (2 * this.#core.random() - 1))
  }

  #schedule(record: EndpointHealth, at: number): void {
    record.next = this.#core.timers.schedule(at, () => {
      record.next = undefined
      this.#run(record)
    })
  }

  /**
   * Health checks that take every endpoint out are usually configuration, not an outage (gRPC
   * checks against servers without `grpc.health.v1.Health` answer UNIMPLEMENTED everywhere): say
   * so once, until a check passes again.
   */
  #warnIfAllUnhealthy(reason: string): void {
    if (this.#warnedAll || this.#records.size === 0) return
    for (const record of this.#records) if (record.status !== 'unhealthy') return
    this.#warnedAll = true
    const type = this.#options.type
    const hint = /UNIMPLEMENTED/.test(reason)
      ? ': the servers do not implement grpc.health.v1.Health — register the health service on them, or turn `healthCheck` off'
      : /\b404\b/.test(reason)
        ? ': the health check path does not exist on the servers — check `healthCheck.path`'
        : ''
    this.#core.warn(
      'KEEL_ALL_UNHEALTHY',
      `every endpoint (${this.#records.size}) failed its ${type} health check; last: ${reason}${hint}`,
    )
  }

  #run(record: EndpointHealth): void {
    if (this.#closed || record.detached) return
    const now = this.#core.clock.now()
    if (record.running !== undefined) {
      if (record.deadline !== undefined) {
        // Still within its timeout (a timeout longer than the interval): start again when it ends.
        record.due = true
      } else {
        // It timed out and ignored its signal: it fails again, and no new check starts beside it.
        record.fail('previous check still running')
        this.#schedule(record, now + this.#interval())
      }
      return
    }
    const check = this.#checks.get(this.#options.type)
    if (check === undefined) return
    this.#schedule(record, now + this.#interval())
    const controller = new AbortController()
    const timeout = this.#options.timeout
    let counted = false
    const count = (passed: boolean, reason: string) => {
      if (counted) return
      counted = true
      if (record.deadline !== undefined) this.#core.timers.cancel(record.deadline)
      record.deadline = undefined
      if (record.controller === controller) record.controller = undefined
      if (this.#closed || record.detached) return
      if (passed) {
        record.pass()
        this.#warnedAll = false
      } else {
        record.fail(reason)
        this.#warnIfAllUnhealthy(reason)
      }
    }
    record.controller = controller
    record.deadline = this.#core.timers.schedule(now + timeout, () => {
      record.deadline = undefined
      const error = new HealthCheckTimeoutError(timeout)
      controller.abort(error)
      count(false, error.message)
    })
    let pending: Promise<boolean>
    try {
      pending = Promise.resolve(check(record.state.endpoint, controller.signal))
    } catch (error) {
      pending = Promise.reject(error)
    }
    const running = pending
      .then(
        (ok) => count(ok === true, 'check returned false'),
        (error: unknown) => count(false, failureReason(error)),
      )
      .finally(() => {
        if (record.running !== running) return
        record.running = undefined
        if (record.due && !this.#closed && !record.detached) {
          record.due = false
          if (record.next !== undefined) this.#core.timers.cancel(record.next)
          this.#run(record)
        }
      })
    record.running = running
    record.runningBuiltIn = this.#builtIn.has(check)
  }
}

/** The health checker of a balancer, or undefined when `healthCheck` is off. Called by the hub. */
export function createHealthChecker(core: HealthHost, options: ResolvedHealthCheck | false): HealthChecker | undefined {
  return options === false ? undefined : new HealthChecker(core, options)
}
