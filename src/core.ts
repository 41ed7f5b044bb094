import type { EventEmitter } from 'eventemitter3'
import { AttemptImpl as Attempt, type AttemptImpl, NO_PREVIOUS } from './attempt.ts'
import { OutcomeClassifier } from './classify.ts'
import { BreakerDetector } from './detectors/breaker.ts'
import { EjectionState } from './detectors/ejection.ts'
import { createOutlierDetector } from './detectors/outlier.ts'
import { pauseForOverload } from './detectors/overload.ts'
import { EndpointSet } from './endpoint-set.ts'
import type { EndpointState } from './endpoint-state.ts'
import { type AttemptRecord, AttemptTimeoutError } from './errors.ts'
import { emitSafely } from './events.ts'
import { createHealthChecker } from './health/checker.ts'
import type { Clock } from './internal/clock.ts'
import type { Random } from './internal/random.ts'
import { TimerQueue } from './internal/timer-queue.ts'
import { formatValue } from './internal/validate.ts'
import { LatencyWindow } from './load/latency-window.ts'
import { failureFloorMs } from './load/load-reference.ts'
import { slowStartWeights } from './pickers/slow-start.ts'
import type { ResolvedOptions } from './resolved-options.ts'
import { CLIENT_RESOURCE, ResourceRegistry } from './resources.ts'
import { RetryBudget } from './retry/budget.ts'

/** Hooks for detectors that arrive with their own modules (outlier detection, health checks). */
export interface AttachedDetector {
  attach(state: EndpointState): void
  detach(state: EndpointState): void
  /** Feeds an ended attempt (not called for `cancelled`). */
  record?(state: EndpointState, attempt: AttemptImpl, now: number): void
  close(): void | Promise<void>
}

/**
 * The balancer's internals, shared by the endpoint set, the call paths and the detectors. One
 * per balancer; every field is set in the constructor so hot paths see a stable shape.
 */
export class Core {
  readonly options: ResolvedOptions
  readonly clock: Clock
  readonly random: Random
  readonly timers: TimerQueue
  readonly emitter: EventEmitter
  readonly classifier: OutcomeClassifier
  readonly ejection: EjectionState
  readonly breakers: BreakerDetector | undefined
  readonly budget: RetryBudget | undefined
  readonly resources: ResourceRegistry
  readonly set: EndpointSet
  readonly detectors: AttachedDetector[] = []
  /** The picker uses keys (hash pickers). */
  readonly keyed: boolean
  /** The picker is built from membership (hash pickers): rebuilt on a timer. */
  readonly memberScoped: boolean
  readonly memberRebuildInterval: number

  /** Calls started and not yet settled. */
  pending = 0
  /** Attempts started and not yet ended, over every endpoint (`PickContext.totalInFlight`). */
  inFlight = 0
  /** 'open' → 'closing' (no new calls) → 'closed'. */
  phase: 'open' | 'closing' | 'closed' = 'open'
  /** Called when `pending` reaches 0 while closing. */
  onIdle: (() => void) | undefined
  /** Discovery's refresh, when the source has one. */
  refresh: (() => void) | undefined
  /** Calls waiting out a retry's backoff (no attempt in flight), so `close()` can cancel them. */
  readonly liveCalls = new Set<{ cancel(reason: unknown): void }>()
  /** Recent attempt latencies for `hedge.delay: 'p95'`, made on first use. */
  latency: LatencyWindow | undefined
  /** Effective weights before each rebuild (slow start replaces it). */
  applyWeights: (states: Iterable<EndpointState>, now: number) => void = () => {}

  constructor(options: ResolvedOptions, emitter: EventEmitter) {
    this.options = options
    this.clock = options.clock
    this.random = options.random
    this.emitter = emitter
    this.timers = new TimerQueue(options.clock)
    this.classifier = new OutcomeClassifier(
      options.classify,
      () => options.clock.wallNow(),
      (result) =>
        this.warn(
          'KEEL_INVALID_VERDICT',
          `classify returned ${formatValue(result)}, not a verdict: keel's rules decided`,
        ),
    )
    this.keyed = options.picker.keyed === true
    this.memberScoped = options.picker.scope === 'members' || options.fallbackPicker.scope === 'members'
    this.memberRebuildInterval = Math.max(
      options.picker.rebuildIntervalMs ?? 100,
      options.fallbackPicker.rebuildIntervalMs ?? 100,
    )
    this.set = new EndpointSet(this)
    this.resources = new ResourceRegistry(
      {
        clock: this.clock,
        random: this.random,
        find: (id) => this.set.find(id),
        warn: (code, message) => this.warn(code, message),
      },
      options.maxConnectionAge,
    )
    this.ejection = new EjectionState(
      {
        memberCount: () => this.set.size,
        members: () => this.set.members.values(),
        invalidate: () => this.set.invalidate(),
        emit: (event, payload) => this.emit(event, payload),
        schedule: (at, fire) => this.timers.schedule(at, fire),
        cancel: (entry) => this.timers.cancel(entry),
      },
      options.maxEjectionPercent,
    )
    this.breakers =
      options.breaker === false
        ? undefined
        : new BreakerDetector(options.breaker, {
            ejection: this.ejection,
            now: () => this.clock.now(),
            schedule: (at, fire) => this.timers.schedule(at, fire),
            cancel: (entry) => this.timers.cancel(entry),
            invalidate: () => this.set.invalidate(),
            emit: (event, endpoint) => this.emit(event, { endpoint }),
          })
    this.budget = options.budget === false ? undefined : new RetryBudget(options.budget)
    const outlier = createOutlierDetector(this)
    if (outlier !== undefined) this.detectors.push(outlier)
    const health = createHealthChecker(this)
    if (health !== undefined) this.detectors.push(health)
    const weights = slowStartWeights(this)
    if (weights !== undefined) this.applyWeights = weights
    if (options.createClient !== undefined) {
      const close = options.closeClient
      this.resources.register(
        CLIENT_RESOURCE,
        close === undefined ? { create: options.createClient } : { create: options.createClient, close },
      )
    }
  }

  /** The p95 estimator, created the first time a call hedges at `'p95'`. */
  latencyWindow(): LatencyWindow {
    this.latency ??= new LatencyWindow()
    return this.latency
  }

  /** `endpoint.client`: the endpoint's `createClient` resource. */
  clientFor(state: EndpointState): unknown {
    if (!this.resources.has(CLIENT_RESOURCE)) {
      throw new TypeError('`endpoint.client` needs the balancer option `createClient`')
    }
    return this.resources.get(CLIENT_RESOURCE, state)
  }

  attachDetectors(state: EndpointState): void {
    this.breakers?.attach(state)
    for (const detector of this.detectors) detector.attach(state)
  }

  detachDetectors(state: EndpointState): void {
    this.breakers?.detach(state)
    for (const detector of this.detectors) detector.detach(state)
    if (state.ejectionTimers !== undefined) {
      for (const entry of state.ejectionTimers.values()) this.timers.cancel(entry)
      state.ejectionTimers = undefined
    }
  }

  /** Starts an attempt on an admitted endpoint: it is in flight until `finishAttempt`. */
  startAttempt(
    state: EndpointState,
    number: number,
    previous: readonly AttemptRecord[],
    now: number,
    trial: boolean,
  ): AttemptImpl {
    const attempt = new Attempt(state, number, previous, now, trial)
    state.inFlight++
    this.inFlight++
    state.linkAttempt(attempt)
    if (trial && this.options.breaker !== false) {
      const timeout = this.options.breaker.trialTimeout
      attempt.timeoutEntry = this.timers.schedule(now + timeout, () =>
        this.cancelAttempt(attempt, new AttemptTimeoutError(timeout, state.id)),
      )
    }
    return attempt
  }

  /** Arms an attempt timeout (the shorter of it and a trial's timeout wins). */
  armAttemptTimeout(attempt: AttemptImpl, timeoutMs: number): void {
    const at = attempt.start + timeoutMs
    if (attempt.timeoutEntry !== undefined) {
      if (attempt.timeoutEntry.at <= at) return
      this.timers.cancel(attempt.timeoutEntry)
    }
    attempt.timeoutEntry = this.timers.schedule(at, () =>
      this.cancelAttempt(attempt, new AttemptTimeoutError(timeoutMs, attempt.state.id)),
    )
  }

  /** keel gives up on an attempt: aborts its signal and ends it now with the reason's verdict. */
  cancelAttempt(attempt: AttemptImpl, reason: unknown): void {
    if (attempt.ended) return
    attempt.markCancelled(reason)
    this.finishAttempt(attempt)
  }

  /**
   * Ends an attempt exactly once: classifies it (by keel's reason when keel cancelled it),
   * releases its in-flight slot and feeds latency and detectors. A second call, when `fn`
   * settles after keel already ended the attempt, only discards a returned value.
   */
  finishAttempt(attempt: AttemptImpl): void {
    if (attempt.ended) {
      if (attempt.settled && !attempt.threw && attempt.value !== undefined) this.classifier.discard(attempt.value)
      return
    }
    attempt.ended = true
    const state = attempt.state
    state.inFlight--
    this.inFlight--
    state.unlinkAttempt(attempt)
    if (attempt.timeoutEntry !== undefined) {
      this.timers.cancel(attempt.timeoutEntry)
      attempt.timeoutEntry = undefined
    }
    const now = this.clock.now()
    const duration = now - attempt.start
    attempt.durationMs = duration
    if (!attempt.cancelled) {
      const result = attempt.threw ? this.classifier.error(attempt.error) : this.classifier.value(attempt.value)
      if (typeof result === 'string') {
        attempt.verdict = result
      } else {
        attempt.verdict = result.verdict
        attempt.retryAfterMs = result.retryAfterMs ?? 0
        attempt.refused = result.refused === true
      }
    }
    if (attempt.verdict !== 'cancelled') state.requests++
    switch (attempt.verdict) {
      case 'success':
        state.overloadStreak = 0
        state.load.observe(now, duration)
        if (!this.set.calibrated) this.set.calibrate(now, duration)
        break
      case 'caller-error':
        // A stale IP answering instant 404s must not attract traffic: may raise, never lower.
        state.load.raise(now, duration)
        break
      case 'endpoint-failure':
      case 'not-sent':
        state.failures++
        state.load.penalize(now, duration, failureFloorMs(this.set.members.values(), state))
        break
      case 'overloaded':
        // Shedding answers come back fast without doing the work: charged like a failure, so a
        // replica answering instant 429s or `Retry-After: 0` never looks like the fastest.
        state.load.penalize(now, duration, failureFloorMs(this.set.members.values(), state))
        pauseForOverload(this, state, attempt.retryAfterMs, now)
        break
      case 'cancelled':
        // A lost hedge, a deadline, an abort: the endpoint took at least this long, so the
        // elapsed time is a lower bound — it may raise the estimate, never lower it (tower's
        // PeakEwma charges a request's time when its handle drops, whatever the outcome).
        if (duration > state.load.read(now)) state.load.observe(now, duration)
        break
      default:
        break
    }
    const latency = this.latency
    if (latency !== undefined) {
      // Answers only: a hedge loser's time is the delay itself plus the winner's, so recording it
      // would feed the p95 delay back into itself.
      const verdict = attempt.verdict
      if (verdict === 'success' || verdict === 'caller-error') latency.record(now, duration)
    }
    if (this.breakers !== undefined)
      this.breakers.record(state, attempt.verdict, duration, attempt.trial, attempt.start)
    else if (attempt.trial) state.trialInFlight = false
    if (attempt.verdict !== 'cancelled') {
      for (const detector of this.detectors) detector.record?.(state, attempt, now)
    }
    if (state.draining && state.inFlight === 0) this.set.finishDrain(state)
    const wake = attempt.onEnd
    if (wake !== undefined) {
      attempt.onEnd = undefined
      wake()
    }
  }

  /** Emits `attempt` for an ended attempt, if anyone listens. */
  emitAttempt(attempt: AttemptImpl, retried: boolean): void {
    if (this.emitter.listenerCount('attempt') === 0) return
    emitSafely(this.emitter, 'attempt', {
      endpoint: attempt.state.endpoint,
      verdict: attempt.verdict,
      durationMs: attempt.durationMs,
      attempt: attempt.number,
      retried,
    })
  }

  /** Emits an event if anyone listens, isolating keel from listeners that throw. */
  emit(event: string, payload: unknown): void {
    if (this.emitter.listenerCount(event) === 0) return
    emitSafely(this.emitter, event, payload)
  }

  warn(code: string, message: string): void {
    this.emit('warning', { code, message })
  }

  /** Asks discovery for a fresh answer (every endpoint ejected or none left). */
  requestRefresh(): void {
    this.refresh?.()
  }

  /** A call settled: when the balancer is closing and this was the last one, wake `close()`. */
  callSettled(): void {
    if (--this.pending === 0 && this.onIdle !== undefined) this.onIdle()
  }
}

export { NO_PREVIOUS }
