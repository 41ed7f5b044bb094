import type { EventEmitter } from 'eventemitter3'
import { type DriveHost, driveCall } from '../call/adapter-call.ts'
import { RetryBudget } from '../call/budget.ts'
import { DEFAULT_RETRY } from '../call/retry-options.ts'
import { OutcomeClassifier } from '../classify/classify.ts'
import { BreakerDetector } from '../ejection/breaker.ts'
import { EjectionState } from '../ejection/ejection-state.ts'
import { createHealthChecker, type HealthChecker } from '../ejection/health/checker.ts'
import { createOutlierDetector } from '../ejection/outlier.ts'
import { OverloadObserver } from '../ejection/overload.ts'
import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import { TimerQueue } from '../internal/timer-queue.ts'
import { formatValue } from '../internal/validate.ts'
import { LoadObserver } from '../load/load-observer.ts'
import type { HealthCheckType } from '../model/detector.ts'
import { type AttemptRecord, AttemptTimeoutError, usageError } from '../model/errors.ts'
import { emitSafely } from '../model/events.ts'
import type { CallOptions } from '../options/options.ts'
import { resolveCall } from '../options/resolve-options.ts'
import type { ResolvedOptions } from '../options/resolved-options.ts'
import { CLIENT_RESOURCE, ResourceRegistry } from '../resources/resources.ts'
import { slowStartWeights } from '../warmup/slow-start.ts'
import { adapterSettings } from './adapter-settings.ts'
import { AddOns } from './add-ons.ts'
import { AttemptImpl } from './attempt.ts'
import { CallObservation } from './call-observation.ts'
import { EndpointSet } from './endpoint-set.ts'
import type { EndpointState } from './endpoint-state.ts'
import { publishEndpointState } from './endpoint-state-channel.ts'
import type {
  AdapterCall,
  AdapterPort,
  AdapterSettings,
  AttemptControl,
  AttemptObserver,
  BalancerPort,
  CallPort,
  HealthCheck,
  MemberObserver,
  ResolvedCall,
} from './ports.ts'

/**
 * The hub: the one place that wires the rooms together. It owns the clock, timers, the endpoint
 * set, the ejection state and the observer lists, and offers each component only its port
 * (`BalancerPort`, `AdapterPort`, `AddOnPort`: see docs/architecture.md). One per balancer; every
 * field is set in the constructor so hot paths see a stable shape.
 */
export class Core implements BalancerPort, CallPort, AdapterPort, DriveHost {
  readonly options: ResolvedOptions
  readonly clock: Clock
  readonly random: Random
  readonly timers: TimerQueue
  readonly emitter: EventEmitter
  readonly classifier: OutcomeClassifier
  readonly ejection: EjectionState
  readonly breakers: BreakerDetector | undefined
  readonly health: HealthChecker | undefined
  readonly budget: RetryBudget | undefined
  readonly resources: ResourceRegistry
  readonly set: EndpointSet
  readonly load: LoadObserver
  readonly settings: AdapterSettings
  /** What add-ons may do (`addOnPort(balancer)`). */
  readonly addOns: AddOns
  /** Call observers and diagnostics channels: `start` says whether anyone watches a call. */
  readonly observation: CallObservation
  /** Attempt observers in their documented order: load, breaker, outlier, overload, then add-ons'. */
  readonly observers: AttemptObserver[] = []
  /** Member observers: the breaker, outlier detection, health checks, then add-ons'. */
  readonly memberObservers: MemberObserver[] = []
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
  /** Set by the balancer until discovery's first answer: how a driven call waits for it. */
  gatedCall: DriveHost['gatedCall'] = undefined
  /** Calls waiting out a retry's backoff (no attempt in flight), so `close()` can cancel them. */
  readonly liveCalls = new Set<{ cancel(reason: unknown): void }>()
  /** Effective weights before each rebuild (slow start replaces it). */
  readonly applyWeights: (states: Iterable<EndpointState>, now: number) => void

  constructor(options: ResolvedOptions, emitter: EventEmitter) {
    this.options = options
    this.clock = options.clock
    this.random = options.random
    this.emitter = emitter
    this.timers = new TimerQueue(options.clock)
    this.observation = new CallObservation(emitter)
    const invalid = (result: unknown) => `classify returned ${formatValue(result)}, not a verdict: keel's rules decided`
    this.classifier = new OutcomeClassifier(
      options.classify,
      () => options.clock.wallNow(),
      (result) => this.warn('KEEL_INVALID_VERDICT', invalid(result)),
    )
    this.settings = adapterSettings(options)
    this.keyed = options.picker.keyed === true
    this.memberScoped = options.picker.scope === 'members' || options.fallbackPicker.scope === 'members'
    this.memberRebuildInterval = Math.max(
      options.picker.rebuildIntervalMs ?? 100,
      options.fallbackPicker.rebuildIntervalMs ?? 100,
    )
    this.set = new EndpointSet(this)
    this.addOns = new AddOns(this)
    this.resources = new ResourceRegistry(this, options.maxConnectionAge)
    this.ejection = new EjectionState(this, options.maxEjectionPercent)
    this.budget = options.budget === false ? undefined : new RetryBudget(options.budget)
    // The attempt observers, in their documented order: load, breaker, outlier, overload.
    this.load = new LoadObserver(this)
    this.observers.push(this.load)
    this.breakers = options.breaker === false ? undefined : new BreakerDetector(options.breaker, this)
    if (this.breakers !== undefined) {
      this.observers.push(this.breakers)
      this.memberObservers.push(this.breakers)
    }
    const outlier = createOutlierDetector(this, options.outlierDetection)
    if (outlier !== undefined) {
      this.observers.push(outlier)
      this.memberObservers.push(outlier)
    }
    const retry = options.retry === false ? DEFAULT_RETRY : options.retry
    this.observers.push(new OverloadObserver(this.ejection, retry.maxRetryAfter))
    this.health = createHealthChecker(this, options.healthCheck)
    if (this.health !== undefined) this.memberObservers.push(this.health)
    // Hash pickers' rings and tables take static weights only (Envoy has slow start for
    // ROUND_ROBIN and LEAST_REQUEST only).
    const picker = options.picker
    const weights =
      picker.scope === 'members' || picker.slowStart === false ? undefined : slowStartWeights(this, options.slowStart)
    this.applyWeights = weights ?? noWeights
    if (options.createClient !== undefined) {
      const close = options.closeClient
      this.resources.register(
        CLIENT_RESOURCE,
        close === undefined ? { create: options.createClient } : { create: options.createClient, close },
      )
    }
  }

  // BalancerPort

  invalidate(): void {
    this.set.invalidate()
  }

  members(): IterableIterator<EndpointState> {
    return this.set.members.values()
  }

  tracked(): IterableIterator<EndpointState> {
    return this.set.all()
  }

  memberCount(): number {
    return this.set.size
  }

  find(id: string): EndpointState | undefined {
    return this.set.find(id)
  }

  /** Whether anyone listens to `event`. */
  listens(event: string): boolean {
    return this.emitter.listenerCount(event) !== 0
  }

  emit(event: string, payload: unknown): void {
    publishEndpointState(this, event, payload)
    if (this.emitter.listenerCount(event) === 0) return
    emitSafely(this.emitter, event, payload)
  }

  warn(code: string, message: string): void {
    this.emit('warning', { code, message })
  }

  // AdapterPort

  uniqueResourceName(base: string): string {
    let name = base
    for (let i = 2; this.resources.has(name); i++) name = `${base}#${i}`
    return name
  }

  installHealthCheck(type: HealthCheckType, check: HealthCheck): boolean {
    if (this.health === undefined) return false
    this.health.install(type, check)
    return true
  }

  control(attempt: object): AttemptControl | undefined {
    return attempt instanceof AttemptImpl ? attempt : undefined
  }

  established(attempt: object): void {
    if (!(attempt instanceof AttemptImpl) || attempt.ended || attempt.latencyMs !== undefined) return
    const latency = (attempt.latencyMs = this.clock.now() - attempt.start)
    if (attempt.timeoutEntry !== undefined) {
      this.timers.cancel(attempt.timeoutEntry)
      attempt.timeoutEntry = undefined
    }
    if (attempt.trial) {
      // The endpoint took the connection: the trial passed. Its end is then an ordinary attempt's.
      attempt.trial = false
      if (this.breakers !== undefined) this.breakers.record(attempt.state, 'success', latency, true, attempt.start)
      else attempt.state.trialInFlight = false
    }
  }

  resolveCall(options: CallOptions): ResolvedCall {
    return resolveCall(options, this.options)
  }

  drive(call: AdapterCall, options: ResolvedCall): void {
    driveCall(this, call, options)
  }

  // The hub's own

  /** `endpoint.client`: the endpoint's `createClient` resource. */
  clientFor(state: EndpointState): unknown {
    if (!this.resources.has(CLIENT_RESOURCE)) {
      throw usageError('KEEL_NO_CREATE_CLIENT', '`endpoint.client` needs the balancer option `createClient`')
    }
    return this.resources.get(CLIENT_RESOURCE, state)
  }

  attachObservers(state: EndpointState): void {
    for (const observer of this.memberObservers) observer.attach(state)
  }

  detachObservers(state: EndpointState): void {
    for (const observer of this.memberObservers) observer.detach(state)
    if (state.ejectionTimers !== undefined) {
      for (const entry of state.ejectionTimers.values()) this.timers.cancel(entry)
      state.ejectionTimers = undefined
    }
  }

  // CallPort

  select(
    key: string | Uint8Array | undefined,
    tried: readonly EndpointState[] | undefined,
    now: number,
    untriedOnly = false,
  ): EndpointState {
    return this.set.select(key, tried, now, untriedOnly)
  }

  /** Starts an attempt on the endpoint the last `select` admitted: in flight until `finishAttempt`. */
  startAttempt(state: EndpointState, number: number, previous: readonly AttemptRecord[], now: number): AttemptImpl {
    const trial = this.set.lastTrial
    const attempt = new AttemptImpl(state, number, previous, now, trial)
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
   * Ends an attempt exactly once: classifies it (by keel's reason when keel cancelled it, by the
   * adapter's known verdict when it gave one), releases its in-flight slot, counts it, then feeds
   * every attempt observer in order. A second call, when `fn` settles after keel already ended the
   * attempt, only discards a returned value.
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
    attempt.durationMs = attempt.latencyMs ?? now - attempt.start
    if (!attempt.cancelled) {
      const result = attempt.threw
        ? this.classifier.error(attempt.error, attempt.hint)
        : (attempt.result ?? this.classifier.value(attempt.value, attempt.hint))
      if (typeof result === 'string') {
        attempt.verdict = result
      } else {
        attempt.verdict = result.verdict
        attempt.retryAfterMs = result.retryAfterMs ?? 0
        attempt.refused = result.refused === true
      }
    }
    const verdict = attempt.verdict
    if (verdict !== 'cancelled') state.requests++
    if (verdict === 'endpoint-failure' || verdict === 'not-sent') state.failures++
    // Without breakers nobody else frees a half-open trial (breakers off: there is none).
    if (attempt.trial && this.breakers === undefined) state.trialInFlight = false
    const observers = this.observers
    for (let i = 0; i < observers.length; i++) observers[i]!.attemptEnded(attempt, now)
    if (state.draining && state.inFlight === 0) this.set.finishDrain(state)
    const wake = attempt.onEnd
    if (wake !== undefined) {
      attempt.onEnd = undefined
      wake()
    }
  }

  /**
   * Emits `attempt` for an ended attempt, if anyone listens: exactly once per attempt, once its
   * call decided whether to retry after it (the call tells its observers at the same point).
   */
  emitAttempt(attempt: AttemptImpl, retried: boolean): void {
    if (this.emitter.listenerCount('attempt') === 0) return
    const error = attempt.failure
    emitSafely(this.emitter, 'attempt', {
      endpoint: attempt.state.endpoint,
      verdict: attempt.verdict,
      durationMs: attempt.durationMs,
      attempt: attempt.number,
      retried,
      callId: attempt.callId,
      hedge: attempt.hedge,
      ...(error === undefined ? {} : { error }),
    })
  }

  /** Asks discovery for a fresh answer (every endpoint ejected or none left). */
  requestRefresh(): void {
    this.refresh?.()
  }

  callStarted(): void {
    this.pending++
  }

  /** A call settled: when the balancer is closing and this was the last one, wake `close()`. */
  callSettled(): void {
    if (--this.pending === 0 && this.onIdle !== undefined) this.onIdle()
  }

  waiting(call: { cancel(reason: unknown): void }, waits: boolean): void {
    if (waits) this.liveCalls.add(call)
    else this.liveCalls.delete(call)
  }

  latencyQuantile(now: number, q: number): number | undefined {
    return this.load.latencyWindow().quantile(now, q)
  }

  anyPickable(): boolean {
    return this.set.anyPickable()
  }

  earliestOverloadEnd(): number {
    return this.set.earliestOverloadEnd()
  }
}

/** Without slow start, effective weights are the static ones: nothing to apply. */
function noWeights(): void {}
