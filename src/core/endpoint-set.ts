import type { TimerEntry } from '../internal/timer-queue.ts'
import { Detector } from '../model/detector.ts'
import type { EndpointInfo } from '../model/endpoint.ts'
import { EndpointRemovedError, NoEndpointAvailableError } from '../model/errors.ts'
import type { ResolvedOptions } from '../options/resolved-options.ts'
import { hashKey } from '../pickers/hash.ts'
import { Selection } from '../priorities/levels.ts'
import { type ZoneLatency, zoneLatency } from '../priorities/zone-latency.ts'
import type { AttemptImpl } from './attempt.ts'
import { EndpointState, type ResourceOwner } from './endpoint-state.ts'
import { PickContextImpl } from './pick-context.ts'
import type { BalancerPort } from './ports.ts'

/** What the endpoint set needs from the hub. */
export interface SetHost extends ResourceOwner, Pick<BalancerPort, 'clock' | 'random' | 'timers' | 'emit' | 'warn'> {
  readonly options: Pick<
    ResolvedOptions,
    'maxInFlightPerEndpoint' | 'drainTimeout' | 'picker' | 'fallbackPicker' | 'panicThreshold' | 'zones'
  >
  /** Attempts in flight over every endpoint. */
  readonly inFlight: number
  /** The picker uses keys (hash pickers). */
  readonly keyed: boolean
  /** The picker is built from membership (hash pickers): rebuilt on a timer. */
  readonly memberScoped: boolean
  readonly memberRebuildInterval: number
  readonly ejection: { memberLeft(state: EndpointState): void; memberRejoined(state: EndpointState): void }
  readonly resources: { closeAll(state: EndpointState): void }
  /** Tells the member observers (breaker, outlier, health, add-ons). */
  attachObservers(state: EndpointState): void
  detachObservers(state: EndpointState): void
  /** Sets effective weights before a rebuild (slow start). */
  applyWeights(states: Iterable<EndpointState>, now: number): void
  cancelAttempt(attempt: AttemptImpl, reason: unknown): void
  requestRefresh(): void
}

/** PeakEWMA decay (Finagle, Linkerd, tower): 10 s. */
export const EWMA_DECAY_MS = 10_000
/** A new endpoint's latency estimate when there is no other to average (docs/pickers/p2c-ewma.md). */
export const COLD_START_MS = 30

const ADMIT = 0
const ADMIT_TRIAL = 1
const REJECT = -1

/**
 * Membership: which endpoints exist, which are draining, and the picker snapshot over them.
 * Changes mark the snapshot dirty; it is rebuilt once per batch of changes (on a microtask, or
 * by the next pick if that comes first). Hash pickers, built from membership only, are rebuilt
 * on a timer at most once per their `rebuildIntervalMs`, off the per-call path.
 */
export class EndpointSet {
  readonly members = new Map<string, EndpointState>()
  readonly draining = new Map<string, EndpointState>()
  /** Whether the last successful `select` admitted a half-open breaker's trial. */
  lastTrial = false

  readonly #core: SetHost
  readonly #context: PickContextImpl
  #selection: Selection | undefined
  #dirty = true
  #rebuildQueued = false
  #memberPickersDirty = true
  #memberPickersBuiltAt = Number.NEGATIVE_INFINITY
  #memberRebuildEntry: TimerEntry | undefined
  #stamp = 0
  readonly #panicking = new Set<number>()
  /** Latency shedding of a slow local zone (docs/zones.md). */
  readonly #zoneLatency: ZoneLatency | undefined
  readonly #rebuildNow = () => {
    this.#rebuildQueued = false
    if (this.#dirty) this.#rebuild()
  }

  constructor(core: SetHost) {
    this.#core = core
    this.#context = new PickContextImpl(core.options.maxInFlightPerEndpoint)
    this.#zoneLatency = zoneLatency(core.options.zones, core, (latency) => this.#selection?.reweigh(latency))
  }

  get size(): number {
    return this.members.size
  }

  /** A member or draining endpoint, by id. */
  find(id: string): EndpointState | undefined {
    return this.members.get(id) ?? this.draining.get(id)
  }

  /** Every state keel still tracks: members first, then draining ones. */
  *all(): IterableIterator<EndpointState> {
    yield* this.members.values()
    yield* this.draining.values()
  }

  /**
   * Makes the membership exactly `infos`: unchanged ids keep their state, changed attributes are
   * applied in place, new ids start (reviving a draining one with its state), missing ids drain.
   */
  apply(infos: readonly EndpointInfo[]): void {
    const next = new Map<string, EndpointInfo>()
    for (const info of infos) next.set(info.id, info)
    for (const [id, state] of this.members) {
      if (!next.has(id)) this.#startDrain(state)
    }
    const coldStart = this.#coldStartLatency(this.#core.clock.now())
    for (const info of next.values()) this.#upsert(info, coldStart)
  }

  add(info: EndpointInfo): void {
    this.#upsert(info, this.#coldStartLatency(this.#core.clock.now()))
  }

  remove(id: string): boolean {
    const state = this.members.get(id)
    if (state === undefined) return false
    this.#startDrain(state)
    return true
  }

  /** Eligibility changed somewhere: rebuild the snapshot before the next pick. */
  invalidate(): void {
    this.#dirty = true
    if (!this.#rebuildQueued) {
      this.#rebuildQueued = true
      queueMicrotask(this.#rebuildNow)
    }
  }

  /** The current snapshot, rebuilt first if anything changed. */
  get selection(): Selection {
    if (this.#dirty || this.#selection === undefined) this.#rebuild(true)
    return this.#selection!
  }

  /**
   * Picks and admits an endpoint for an attempt. `tried` endpoints are avoided while another is
   * available, else the picker's best tried one is taken (never, with `untriedOnly`: hedges). keel-side refusals (half-open trial
   * taken, at the in-flight cap, leaving) are not attempts: the refused endpoint is skipped and
   * the picker is asked again. Throws `NoEndpointAvailableError` when nothing can be admitted.
   */
  select(
    key: string | Uint8Array | undefined,
    tried: readonly EndpointState[] | undefined,
    now: number,
    untriedOnly = false,
  ): EndpointState {
    const selection = this.selection
    const context = this.#context
    context.now = now
    context.totalInFlight = this.#core.inFlight
    if (key !== undefined && (this.#core.keyed || selection.levels.length > 1)) {
      context.hasKey = true
      hashKey(key, context)
    } else {
      context.hasKey = false
    }
    let stamp = (context.stamp = ++this.#stamp)
    let soft = tried !== undefined && tried.length > 0
    if (soft) for (const t of tried!) t.skipStamp = stamp
    let refused: EndpointState[] | undefined
    const limit = 2 * (this.members.size + 1)
    for (let guard = 0; guard < limit; guard++) {
      const state = selection.select(context)
      if (state === undefined) {
        if (!soft || untriedOnly) break
        // Every untried endpoint is out: allow the tried ones again (only refusals stay skipped).
        soft = false
        stamp = context.stamp = ++this.#stamp
        if (refused !== undefined) for (const r of refused) r.skipStamp = stamp
        continue
      }
      const admitted = this.#admit(state)
      if (admitted !== REJECT) {
        this.lastTrial = admitted === ADMIT_TRIAL
        if (this.lastTrial) state.trialInFlight = true
        return state
      }
      ;(refused ??= []).push(state)
      state.skipStamp = stamp
    }
    throw this.#unavailable(now)
  }

  /** Whether any endpoint could take an attempt now (ignoring in-flight caps). */
  anyPickable(): boolean {
    for (const level of this.selection.levels) if (level.candidates.length > 0) return true
    return false
  }

  /** The earliest clock time an overloaded member accepts traffic again, or Infinity. */
  earliestOverloadEnd(): number {
    let earliest = Number.POSITIVE_INFINITY
    for (const state of this.members.values()) {
      if ((state.ejectedBy & Detector.overload) !== 0 && state.overloadUntil < earliest) earliest = state.overloadUntil
    }
    return earliest
  }

  /** Priorities whose level is in panic. */
  get panicking(): readonly number[] {
    this.selection
    return [...this.#panicking].sort((a, b) => a - b)
  }

  /** The drain of `state` is over: release everything it held. */
  finishDrain(state: EndpointState): void {
    if (this.draining.get(state.id) !== state) return
    this.draining.delete(state.id)
    if (state.drainEntry !== undefined) this.#core.timers.cancel(state.drainEntry)
    state.drainEntry = undefined
    this.#core.detachObservers(state)
    this.#core.resources.closeAll(state)
  }

  /** Stops the hash-picker rebuild timer (the balancer is closing). */
  close(): void {
    if (this.#memberRebuildEntry !== undefined) this.#core.timers.cancel(this.#memberRebuildEntry)
    this.#memberRebuildEntry = undefined
    this.#zoneLatency?.close()
  }

  #admit(state: EndpointState): number {
    if (!state.pickable || state.draining) return REJECT
    if (state.inFlight >= this.#context.maxInFlight) return REJECT
    if (state.breakerPhase === 'half-open' || state.probation) return state.trialInFlight ? REJECT : ADMIT_TRIAL
    return ADMIT
  }

  #unavailable(now: number): NoEndpointAvailableError {
    if (this.members.size === 0) {
      this.#core.requestRefresh()
      return new NoEndpointAvailableError('empty')
    }
    let pickable = 0
    let saturated = 0
    let overloadedOnly = 0
    let earliest = Number.POSITIVE_INFINITY
    for (const state of this.members.values()) {
      if (state.pickable) {
        pickable++
        if (state.inFlight >= this.#context.maxInFlight) saturated++
      } else if (state.ejectedBy === Detector.overload) {
        overloadedOnly++
        earliest = Math.min(earliest, state.overloadUntil)
      }
    }
    // Saturation is load, not membership: only a set with nothing pickable asks discovery again.
    if (pickable === 0) this.#core.requestRefresh()
    if (pickable > 0 && saturated === pickable) return new NoEndpointAvailableError('saturated')
    if (pickable === 0 && overloadedOnly > 0)
      return new NoEndpointAvailableError('overloaded', Math.max(0, earliest - now))
    return new NoEndpointAvailableError('unavailable')
  }

  /** Adds or updates one endpoint; a new one starts at `coldStartMs` (computed once per batch). */
  #upsert(info: EndpointInfo, coldStartMs: number): void {
    const core = this.#core
    const existing = this.members.get(info.id)
    if (existing !== undefined) {
      if (!existing.endpoint.sameAs(info)) {
        const { weight, priority, zone } = existing.endpoint
        const membership = weight !== info.weight || priority !== info.priority || zone !== info.zone
        existing.endpoint.assign(info)
        existing.weight = info.weight
        if (membership) this.#membershipChanged()
        this.invalidate()
      }
      return
    }
    const now = core.clock.now()
    const revived = this.draining.get(info.id)
    if (revived !== undefined) {
      this.draining.delete(info.id)
      if (revived.drainEntry !== undefined) core.timers.cancel(revived.drainEntry)
      revived.drainEntry = undefined
      revived.draining = false
      revived.endpoint.assign(info)
      revived.weight = info.weight
      revived.activeSince = now
      this.members.set(info.id, revived)
      core.ejection.memberRejoined(revived)
      this.#membershipChanged()
      core.emit('endpointAdded', { endpoint: revived.endpoint })
      return
    }
    const state = new EndpointState(info, core, now, coldStartMs, EWMA_DECAY_MS)
    this.members.set(info.id, state)
    core.attachObservers(state)
    this.#membershipChanged()
    core.emit('endpointAdded', { endpoint: state.endpoint })
  }

  /**
   * A new endpoint starts at the mean of the established members' estimates (30 ms when none),
   * computed once per batch of changes: adding 10,000 endpoints stays linear.
   */
  #coldStartLatency(now: number): number {
    let sum = 0
    let n = 0
    for (const state of this.members.values()) {
      sum += state.latencyMs(now)
      n++
    }
    return n === 0 ? COLD_START_MS : sum / n
  }

  #startDrain(state: EndpointState): void {
    const core = this.#core
    this.members.delete(state.id)
    state.draining = true
    this.draining.set(state.id, state)
    core.ejection.memberLeft(state)
    this.#membershipChanged()
    core.emit('endpointRemoved', { endpoint: state.endpoint })
    if (state.inFlight === 0) {
      this.finishDrain(state)
      return
    }
    state.drainEntry = core.timers.schedule(core.clock.now() + core.options.drainTimeout, () => {
      state.drainEntry = undefined
      const reason = new EndpointRemovedError(state.id)
      for (const attempt of state.liveAttempts()) core.cancelAttempt(attempt, reason)
      this.finishDrain(state)
    })
  }

  #membershipChanged(): void {
    this.#memberPickersDirty = true
    this.invalidate()
    this.#scheduleMemberRebuild()
  }

  /** Arms the hash-picker rebuild for when the interval allows it (one timer at a time). */
  #scheduleMemberRebuild(): void {
    if (!this.#core.memberScoped || this.#memberRebuildEntry !== undefined) return
    const at = Math.max(this.#core.clock.now(), this.#memberPickersBuiltAt + this.#core.memberRebuildInterval)
    this.#memberRebuildEntry = this.#core.timers.schedule(at, () => {
      this.#memberRebuildEntry = undefined
      this.#rebuild()
    })
  }

  #rebuild(onCallPath = false): void {
    const core = this.#core
    const now = core.clock.now()
    // Hash pickers rebuild only when membership changed and their interval allows it, and never
    // for a pick (their timer or the microtask does it, off the per-call path); the first build
    // always happens.
    const memberPickers =
      this.#memberPickersDirty &&
      (this.#selection === undefined ||
        (!onCallPath && (!core.memberScoped || now >= this.#memberPickersBuiltAt + core.memberRebuildInterval)))
    core.applyWeights(this.members.values(), now)
    const selection = Selection.build({
      members: this.members.values(),
      picker: core.options.picker,
      fallbackPicker: core.options.fallbackPicker,
      panicThreshold: core.options.panicThreshold,
      random: core.random,
      previous: this.#selection,
      rebuildMemberPickers: memberPickers,
      zones: core.options.zones,
      latency: this.#zoneLatency,
      warn: (code, message) => core.warn(code, message),
    })
    this.#zoneLatency?.arm(now)
    this.#selection = selection
    this.#dirty = false
    if (memberPickers) {
      this.#memberPickersDirty = false
      this.#memberPickersBuiltAt = now
    } else if (this.#memberPickersDirty) {
      // A timer that fired before the interval was up (armed before the first build) or a pick
      // left the change pending: make sure a timer will apply it.
      this.#scheduleMemberRebuild()
    }
    // Draining endpoints are not members: never pickable.
    for (const state of this.draining.values()) state.pickable = false
    for (const level of selection.levels) {
      const was = this.#panicking.has(level.priority)
      if (level.panic === was) continue
      if (level.panic) this.#panicking.add(level.priority)
      else this.#panicking.delete(level.priority)
      core.emit('panic', {
        active: level.panic,
        eligible: level.eligible,
        total: level.members.length,
        priority: level.priority,
      })
    }
    for (const priority of [...this.#panicking]) {
      if (!selection.levels.some((l) => l.priority === priority)) this.#panicking.delete(priority)
    }
    if (this.members.size > 0 && !selection.levels.some((l) => l.eligible > 0)) core.requestRefresh()
  }
}
