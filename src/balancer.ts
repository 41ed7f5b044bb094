import { EventEmitter } from 'eventemitter3'
import type { ResolvedCall } from './call/call-options.ts'
import { type AttemptFn, CallRun } from './call/call-run.ts'
import { callSimple } from './call/simple.ts'
import { Core } from './core/core.ts'
import { CORE } from './core/port-access.ts'
import { type BalancerSnapshot, takeSnapshot } from './core/snapshot.ts'
import { attachDebugLog } from './diagnostics/debug-log.ts'
import { FirstAnswer } from './discovery/first-answer.ts'
import { DiscoverySubscription } from './discovery/subscription.ts'
import { isAbortSignal } from './internal/abort.ts'
import { rangeError, typeError } from './internal/validate.ts'
import { type Endpoint, type EndpointInfo, type EndpointInput, parseEndpoint } from './model/endpoint.ts'
import { BalancerClosedError, usageError } from './model/errors.ts'
import type { BalancerEvents } from './model/events.ts'
import type { BalancerOptions, CallOptions } from './options/options.ts'
import { defaultCall, resolveCall, resolveOptions } from './options/resolve-options.ts'
import type { ResourceHandle, ResourceSpec } from './resources/resources.ts'

const BRAND = Symbol.for('keel.balancer')

/**
 * A client-side load balancer over the replicas of one service. Wraps your calls
 * (`balancer.call((endpoint, attempt) => …)`), picks an endpoint per attempt, classifies the
 * outcome, feeds latency and detectors, and retries on another endpoint when it is safe.
 *
 * `C` is the per-endpoint client type inferred from `createClient` (`endpoint.client`).
 */
export class Balancer<C = never> extends EventEmitter<BalancerEvents<C>> {
  readonly #core: Core
  readonly #defaults: ResolvedCall
  #closing: Promise<void> | undefined
  readonly #servername: string | undefined
  #subscription: DiscoverySubscription | undefined
  /** With `discovery`: tracks the first answer (`ready()`). */
  #first: FirstAnswer | undefined
  /** Set until discovery's first answer: calls wait for it (docs/discovery.md). */
  #gate: FirstAnswer | undefined

  constructor(options: BalancerOptions<C> = {}) {
    super()
    const resolved = resolveOptions(options)
    this.#servername = resolved.servername
    // Parsed before anything starts: a bad endpoint throws with nothing running to clean up.
    const infos = resolved.endpoints === undefined ? undefined : this.#parseAll(resolved.endpoints, 'endpoints')
    const core = new Core(resolved, this as unknown as EventEmitter)
    this.#core = core
    this.#defaults = defaultCall(resolved)
    Object.defineProperty(this, BRAND, { value: true })
    Object.defineProperty(this, CORE, { value: core })
    // NODE_DEBUG=keel: one line per ejection, retry, panic… (nothing attached otherwise).
    attachDebugLog(this as unknown as Balancer<unknown>)
    try {
      if (infos !== undefined) core.set.apply(infos)
      // Build the first snapshot now, so the first call does not pay for it.
      void core.set.selection
      if (resolved.discovery !== undefined) this.#watch()
      // Last: the add-on sees the first endpoints; its member observer's close() stops it.
      resolved.sharedHealth?.attach(this)
    } catch (error) {
      // A balancer that is never returned must leave nothing running (timers, breakers, checks).
      this.#abandon()
      throw error
    }
  }

  /** True for a balancer from any copy of keel (ESM or CJS build): checks a `Symbol.for` brand. */
  static isBalancer(value: unknown): value is Balancer<unknown> {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true
  }

  /**
   * Runs `fn` against a picked endpoint, retrying on another endpoint when the verdict and the
   * call's options allow it. Settles like its last attempt (docs/calls.md, "The result rule"): resolves with what it
   * returned, rejects with what it threw — wrapped in `RetriesExhaustedError` only when more than
   * one attempt was made.
   */
  call<T>(fn: AttemptFn<C, T>, options?: CallOptions): Promise<Awaited<T>> {
    const core = this.#core
    if (core.phase !== 'open') return Promise.reject(new BalancerClosedError())
    if (typeof fn !== 'function') return Promise.reject(typeError('fn', 'a function', fn))
    let resolved = this.#defaults
    if (options !== undefined) {
      try {
        resolved = resolveCall(options, core.options)
      } catch (error) {
        return Promise.reject(error)
      }
    }
    if (this.#gate !== undefined)
      return this.#callAfterFirstAnswer(this.#gate, fn as AttemptFn<C, Awaited<T>>, resolved)
    if (resolved.simple) return callSimple(core, fn as AttemptFn<C, Awaited<T>>, resolved)
    return new CallRun(core, fn as AttemptFn<C, Awaited<T>>, resolved, core.clock.now()).start()
  }

  /**
   * Resolves once the balancer has a set: at once with `endpoints`; with `discovery`, when its
   * first snapshot has been applied (discovery errors before it do not reject: listen to
   * `discoveryError`). Rejects with the signal's reason on abort, `BalancerClosedError` on close.
   */
  ready(options?: { readonly signal?: AbortSignal }): Promise<void> {
    if (this.#core.phase !== 'open') return Promise.reject(new BalancerClosedError())
    const signal = options?.signal
    if (signal !== undefined && !isAbortSignal(signal))
      return Promise.reject(typeError('signal', 'an AbortSignal', signal))
    return this.#first === undefined ? Promise.resolve() : this.#first.ready(signal)
  }

  /**
   * Replaces the endpoint set. Endpoints whose id stays keep their state (latency, breaker,
   * ejection history, clients); new ones start; missing ones drain.
   */
  update(endpoints: readonly EndpointInput[]): void {
    this.#assertStatic('update')
    if (!Array.isArray(endpoints)) throw typeError('endpoints', 'an array of endpoints', endpoints)
    this.#core.set.apply(this.#parseAll(endpoints, 'endpoints'))
  }

  /** Adds an endpoint (or updates the attributes of one with the same id). */
  add(endpoint: EndpointInput): Endpoint<C> {
    this.#assertStatic('add')
    const info = this.#parse(endpoint, 'endpoint')
    this.#core.set.add(info)
    return this.#core.set.members.get(info.id)!.endpoint as unknown as Endpoint<C>
  }

  /** Removes an endpoint by id (or endpoint): it drains. Returns false when it was not a member. */
  remove(endpoint: string | EndpointInfo): boolean {
    this.#assertStatic('remove')
    const id = typeof endpoint === 'string' ? endpoint : endpoint?.id
    if (typeof id !== 'string') throw typeError('endpoint', 'an endpoint id or endpoint', endpoint)
    return this.#core.set.remove(id)
  }

  /** The member endpoints (draining ones excluded). */
  get endpoints(): readonly Endpoint<C>[] {
    return [...this.#core.set.members.values()].map((state) => state.endpoint as unknown as Endpoint<C>)
  }

  /**
   * Registers a per-endpoint resource: `get(endpoint)` creates one `R` per endpoint on first use
   * and `close` runs when the endpoint finishes draining or the balancer closes. Adapters register
   * theirs (`'undici.pool'`, `'grpc:' + service`), so several clients share one balancer.
   */
  resource<R>(name: string, spec: ResourceSpec<R>): ResourceHandle<R> {
    return this.#core.resources.register(name, spec)
  }

  /** A JSON-serialisable view of every endpoint's state, the panic levels and the retry budget. */
  snapshot(): BalancerSnapshot {
    return takeSnapshot(this.#core)
  }

  /**
   * Rejects new calls, lets in-flight calls finish (at most `drainTimeout`), then cancels what is
   * left, stops every timer, shuts breakers down and closes every per-endpoint resource. After it
   * resolves nothing of keel keeps the process alive. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  /** `await using balancer = new Balancer(…)`: the same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #close(): Promise<void> {
    const core = this.#core
    core.phase = 'closing'
    this.#subscription?.stop()
    this.#gate = this.#core.gatedCall = undefined
    this.#first?.close()
    for (const observer of [...core.memberObservers]) await observer.close?.()
    if (core.pending > 0) {
      await new Promise<void>((resolve) => {
        core.onIdle = resolve
        core.timers.schedule(core.clock.now() + core.options.drainTimeout, resolve)
      })
      core.onIdle = undefined
    }
    const reason = new BalancerClosedError()
    for (const call of [...core.liveCalls]) call.cancel(reason)
    for (const state of [...core.set.all()]) {
      for (const attempt of state.liveAttempts()) core.cancelAttempt(attempt, reason)
    }
    core.breakers?.shutdown(core.set.all())
    core.ejection.close()
    core.set.close()
    core.resources.close()
    for (const state of [...core.set.all()]) core.resources.closeAll(state)
    core.timers.close()
    await core.resources.settled()
    core.phase = 'closed'
  }

  #assertStatic(method: string): void {
    if (this.#core.options.discovery !== undefined) {
      throw usageError(
        'KEEL_DISCOVERY_OWNS_ENDPOINTS',
        `balancer.${method}() is not available when the \`discovery\` option is set: the discovery source owns the endpoints`,
      )
    }
    if (this.#core.phase !== 'open') throw new BalancerClosedError()
  }

  #parse(input: EndpointInput, option: string): EndpointInfo {
    return parseEndpoint(input, { option, ...(this.#servername === undefined ? {} : { servername: this.#servername }) })
  }

  /** Stops everything a constructor that failed half-way had started. */
  #abandon(): void {
    const core = this.#core
    core.phase = 'closed'
    this.#subscription?.stop()
    for (const observer of core.memberObservers) void observer.close?.()
    core.breakers?.shutdown(core.set.all())
    core.ejection.close()
    core.set.close()
    core.timers.close()
  }

  #parseAll(inputs: readonly EndpointInput[], option: string): EndpointInfo[] {
    const seen = new Map<string, number>()
    return inputs.map((input, i) => {
      const info = this.#parse(input, `${option}[${i}]`)
      const first = seen.get(info.id)
      if (first !== undefined)
        throw rangeError(`${option}[${i}]`, `an endpoint not already listed (same id as ${option}[${first}])`, input)
      seen.set(info.id, i)
      return info
    })
  }

  #watch(): void {
    const core = this.#core
    const first = new FirstAnswer(core.timers)
    this.#first = first
    this.#gate = first
    // Adapters' driven calls (`AdapterPort.drive`) wait for the first answer on this same path.
    core.gatedCall = (fn, resolved) => this.#callAfterFirstAnswer(first, fn, resolved)
    this.#subscription = new DiscoverySubscription(core, core.options.discovery!, {
      parse: (inputs) => this.#parseAll(inputs, 'discovery'),
      apply: (infos) => core.set.apply(infos),
      allowEmpty: core.options.allowEmpty,
      applied: () => {
        if (first.applied) return
        this.#gate = this.#core.gatedCall = undefined
        first.answered()
      },
      failed: (error) => {
        if (this.#gate === undefined) return
        this.#gate = this.#core.gatedCall = undefined
        first.failed(error)
      },
    })
    this.#subscription.start()
  }

  /** A call made before discovery's first answer: waits for it, within the call's timeout and signal. */
  async #callAfterFirstAnswer<T>(gate: FirstAnswer, fn: AttemptFn<C, T>, resolved: ResolvedCall): Promise<T> {
    const core = this.#core
    const startedAt = core.clock.now()
    await gate.waitForCall(startedAt, resolved.signal, resolved.timeout)
    if (core.phase !== 'open') throw new BalancerClosedError()
    if (resolved.simple) return callSimple(core, fn, resolved)
    // The wait counts against the call's overall timeout (its deadline runs from `startedAt`), but
    // not against the first attempt: it starts now, so its timeout and latency are its own.
    return new CallRun(core, fn, resolved, startedAt, core.clock.now()).start()
  }
}
