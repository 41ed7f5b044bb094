// Shared health: one balancer instance's side of the fleet's exchange of observations. Talks to
// its balancer only through the add-on port and to Redis only through `Transport`, so the rule and
// its effects run on the injected clock in unit tests.
import type { AddOnPort, EjectionChange, EndedAttempt, TimerEntry } from '../../core/ports.ts'
import type { SharedHealthErrorEvent } from '../../model/events.ts'
import { Ledger } from './ledger.ts'
import { type Message, parseMessage } from './messages.ts'
import type { ResolvedSharedHealth } from './options.ts'

/** What shared health needs of a pub/sub store (Redis through ioredis in `keel/redis`). */
export interface Transport {
  /** Fire and forget: never blocks, fails fast when disconnected. */
  publish(text: string): void
  /** A short-lived key (`SET … PX ttl`) for instances that start later. Fire and forget. */
  setKey(name: string, text: string, ttlMs: number): void
  deleteKey(name: string): void
  /** The values of the live keys (at most `limit`). */
  readKeys(limit: number): Promise<string[]>
  /** Starts delivering: `message` per channel message, `ready` on each (re)connection, `error`. */
  start(handlers: TransportHandlers): void
  close(): Promise<void>
}

/** What a transport delivers. */
export interface TransportHandlers {
  message(raw: string | Buffer): void
  /** Connected (again): time to read the keys. */
  ready(): void
  /** The first subscription is in place. */
  subscribed(): void
  error(error: unknown): void
}

/** `warning` code: a message on the channel was malformed, oversized, over the rate or foreign. */
export const SHARED_HEALTH_DROPPED = 'KEEL_SHARED_HEALTH_DROPPED'
/** `warning` code: this instance's calls fail while the rest of the fleet sees success. */
export const SHARED_HEALTH_PARTITIONED = 'KEEL_SHARED_HEALTH_PARTITIONED'
/** The `sharedHealthError` event's code: the channel or a Redis command failed. */
export const SHARED_HEALTH_ERROR = 'KEEL_SHARED_HEALTH_ERROR'

/** An ejection by this instance's own detectors, as the fleet hears of it. */
interface OwnEjection {
  readonly detector: string
  readonly reason: string
  /**
   * Outlier detection lifted it for a re-admission probe (Linkerd's failure accrual): the probe
   * is this instance's to make, so the fleet keeps avoiding the endpoint until the probe passes.
   */
  probation: boolean
}

/** Detectors whose ejections are observations worth sharing (overload is load shedding, not a fault). */
const SHARED_DETECTORS = new Set(['breaker', 'outlier', 'health'])
const KEYS_READ_LIMIT = 10_000

export class SharedHealth {
  readonly #port: AddOnPort
  readonly #o: ResolvedSharedHealth
  readonly #transport: Transport
  readonly #self: string
  readonly #ledger: Ledger
  /** Own counts since the last report: endpoint id → [ok, fail]. */
  readonly #pending = new Map<string, [number, number]>()
  /** Endpoints this instance ejected by its own detectors (refreshed on each report). */
  readonly #own = new Map<string, OwnEjection>()
  /** Endpoints this instance ejected on the fleet's word. */
  readonly #shared = new Set<string>()
  readonly #removers: (() => void)[] = []
  #timer: TimerEntry | undefined
  #closed = false
  /** Rate limit of incoming messages: a fixed one-second window. */
  #rateStart = 0
  #rateCount = 0
  /** Drop warnings by kind of reason: when each was last emitted. */
  readonly #dropWarnings = new Map<string, number>()
  #resolveSubscribed: () => void = () => {}
  /** Resolves once this instance listens on the channel (pending while Redis is unreachable). */
  readonly subscribed: Promise<void> = new Promise((resolve) => {
    this.#resolveSubscribed = resolve
  })
  #lastPartitionWarning = Number.NEGATIVE_INFINITY
  #lastError = Number.NEGATIVE_INFINITY

  constructor(port: AddOnPort, options: ResolvedSharedHealth, transport: Transport) {
    this.#port = port
    this.#o = options
    this.#transport = transport
    this.#self = options.instanceId ?? `i-${Math.floor(port.random() * 2 ** 48).toString(36)}`
    this.#ledger = new Ledger(options)
    this.#removers.push(
      port.addAttemptObserver({ attemptEnded: (a) => this.#counted(a) }),
      // The balancer's close() awaits this close(): shared health stops with its balancer.
      port.addMemberObserver({ attach: () => {}, detach: (s) => this.#left(s.endpoint.id), close: () => this.close() }),
      port.addEjectionListener((c) => this.#changed(c)),
    )
    transport.start({
      message: (raw) => this.#received(raw),
      ready: () => void this.#catchUp(),
      subscribed: () => this.#resolveSubscribed(),
      error: (error) => this.#error(error),
    })
    this.#schedule()
  }

  /** This instance's id on the channel. */
  get instanceId(): string {
    return this.#self
  }

  /** Stops reporting and listening, lifts this add-on's ejections, closes the connections keel made. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) this.#port.timers.cancel(this.#timer)
    for (const remove of this.#removers) remove()
    for (const id of this.#shared) this.#port.restore(id, 'shared', 'shared health closed')
    this.#shared.clear()
    await this.#transport.close()
  }

  /** One report: counts out, ejections refreshed, the rule re-applied, the partition check. */
  tick(): void {
    const now = this.#port.clock.now()
    if (this.#pending.size > 0) {
      const counts: Record<string, [number, number]> = {}
      for (const [id, pair] of this.#pending) {
        counts[id] = pair
        this.#ledger.counted(this.#self, id, pair[0], pair[1], now)
      }
      this.#pending.clear()
      this.#send({ v: 1, from: this.#self, kind: 'counts', counts })
    }
    for (const [id, { detector, reason }] of this.#own) {
      this.#ledger.ejected(this.#self, id, now)
      this.#announce(id, detector, reason)
    }
    this.#ledger.prune(now)
    for (const state of this.#port.members()) this.#apply(state.endpoint.id, now)
    this.#checkPartition(now)
  }

  #schedule(): void {
    if (this.#closed) return
    this.#timer = this.#port.timers.schedule(this.#port.clock.now() + this.#o.reportInterval, () => {
      this.#timer = undefined
      this.tick()
      this.#schedule()
    })
  }

  // On the attempt's path: two map lookups, no allocation once an endpoint has its pair.
  #counted(a: EndedAttempt): void {
    const v = a.verdict
    const failed = v === 'endpoint-failure' || v === 'not-sent'
    if (!failed && v !== 'success' && v !== 'caller-error') return
    const id = a.endpoint.id
    let pair = this.#pending.get(id)
    if (pair === undefined) this.#pending.set(id, (pair = [0, 0]))
    pair[failed ? 1 : 0]++
    // A re-admission probe passed: now the fleet hears of the restoration (once).
    if (!failed && this.#own.size > 0) {
      const own = this.#own.get(id)
      if (own?.probation) this.#ownRestored(id, own.detector, 'probe passed')
    }
  }

  #changed(change: EjectionChange): void {
    if (!SHARED_DETECTORS.has(change.detector)) return
    const id = change.endpoint.id
    const now = this.#port.clock.now()
    if (change.kind === 'ejected') {
      this.#own.set(id, { detector: change.detector, reason: change.reason, probation: false })
      this.#ledger.ejected(this.#self, id, now)
      this.#announce(id, change.detector, change.reason)
      this.#apply(id, now)
      return
    }
    const own = this.#own.get(id)
    if (own === undefined) return
    // Lifted on probation: the restoration is not an observation of health until the probe passes
    // (the ejection stays announced and refreshed; a failed probe ejects it again).
    if (change.detector === 'outlier' && change.reason === 'probe') {
      own.probation = true
      this.#apply(id, this.#port.clock.now())
      return
    }
    this.#ownRestored(id, change.detector, change.reason)
  }

  #ownRestored(id: string, detector: string, reason: string): void {
    const now = this.#port.clock.now()
    this.#own.delete(id)
    this.#ledger.restored(this.#self, id, now)
    this.#transport.deleteKey(this.#keyOf(id))
    this.#send({ v: 1, from: this.#self, kind: 'restored', endpoint: id, detector, reason })
    this.#apply(id, now)
  }

  #announce(id: string, detector: string, reason: string): void {
    const message: Message = { v: 1, from: this.#self, kind: 'ejected', endpoint: id, detector, reason }
    const text = JSON.stringify(message)
    this.#transport.setKey(this.#keyOf(id), text, this.#o.window)
    this.#send(message, text)
  }

  #send(message: Message, text = JSON.stringify(message)): void {
    if (this.#closed || Buffer.byteLength(text) > this.#o.maxMessageBytes) return
    this.#transport.publish(text)
  }

  #keyOf(id: string): string {
    return `${this.#self}|${id}`
  }

  #received(raw: string | Buffer): void {
    if (this.#closed) return
    const now = this.#port.clock.now()
    if (now - this.#rateStart >= 1_000) {
      this.#rateStart = now
      this.#rateCount = 0
    }
    if (++this.#rateCount > this.#o.maxMessagesPerSecond) {
      this.#dropped('over the rate limit', now)
      return
    }
    const parsed = parseMessage(raw, this.#o.maxMessageBytes, (id) => this.#isMember(id))
    if (!parsed.ok) {
      this.#dropped(parsed.why, now)
      return
    }
    this.#apply1(parsed.message, now)
  }

  #apply1(m: Message, now: number): void {
    if (m.from === this.#self) return // our own echo: already in the ledger
    if (m.kind === 'counts') {
      for (const [id, [ok, fail]] of Object.entries(m.counts)) this.#ledger.counted(m.from, id, ok, fail, now)
      for (const id of Object.keys(m.counts)) this.#apply(id, now)
      return
    }
    const recorded =
      m.kind === 'ejected'
        ? this.#ledger.ejected(m.from, m.endpoint, now)
        : this.#ledger.restored(m.from, m.endpoint, now)
    if (!recorded) {
      this.#dropped('too many instances', now)
      return
    }
    this.#apply(m.endpoint, now)
  }

  /** Ejects or restores `id` on the fleet's word, through the one ejection state. */
  #apply(id: string, now: number): void {
    if (this.#closed) return
    // The instance probing it back in (outlier re-admission) must be free to send its probe.
    const probing = this.#own.get(id)?.probation === true
    const why = probing ? undefined : this.#ledger.suspect(id, now)
    if (why !== undefined && !this.#shared.has(id)) {
      const reason =
        why.rule === 'quorum'
          ? `shared health: ${why.instances} instances ejected it`
          : `shared health: ${why.instances} instances see ${why.percent}% failures`
      // False when maxEjectionPercent holds it back: tried again on the next message or report.
      if (this.#port.eject(id, 'shared', reason)) this.#shared.add(id)
    } else if (why === undefined && this.#shared.delete(id)) {
      this.#port.restore(id, 'shared', probing ? 'shared health: probing it' : 'shared health: no quorum')
    }
  }

  /** Late starter or reconnection: read the live ejection keys, re-announce ours. */
  async #catchUp(): Promise<void> {
    let values: string[]
    try {
      values = await this.#transport.readKeys(KEYS_READ_LIMIT)
    } catch (error) {
      this.#error(error)
      return
    }
    if (this.#closed) return
    const now = this.#port.clock.now()
    for (const raw of values) {
      const parsed = parseMessage(raw, this.#o.maxMessageBytes, (id) => this.#isMember(id))
      if (parsed.ok && parsed.message.kind === 'ejected') this.#apply1(parsed.message, now)
    }
    for (const [id, { detector, reason }] of this.#own) this.#announce(id, detector, reason)
  }

  #isMember(id: string): boolean {
    for (const state of this.#port.members()) if (state.endpoint.id === id) return true
    return false
  }

  #left(id: string): void {
    this.#ledger.forget(id)
    this.#pending.delete(id)
    this.#own.delete(id)
    this.#shared.delete(id)
  }

  /** Own calls all fail while the rest of the fleet succeeds on the same endpoints. */
  #checkPartition(now: number): void {
    let ownOk = 0
    let ownFail = 0
    let othersOk = 0
    let othersFail = 0
    for (const state of this.#port.members()) {
      const id = state.endpoint.id
      const own = this.#ledger.totals(this.#self, id, now)
      ownOk += own.ok
      ownFail += own.fail
      const others = this.#ledger.othersTotals(this.#self, id, now)
      othersOk += others.ok
      othersFail += others.fail
    }
    const othersVolume = othersOk + othersFail
    if (ownOk > 0 || ownFail < this.#o.requestVolume || othersVolume < this.#o.requestVolume) return
    if (othersFail * 100 >= (100 - this.#o.failureThreshold) * othersVolume) return
    if (now - this.#lastPartitionWarning < this.#o.window) return
    this.#lastPartitionWarning = now
    this.#port.warn(
      SHARED_HEALTH_PARTITIONED,
      `this instance looks partitioned: all ${ownFail} of its attempts failed while the other instances saw ${othersOk} of ${othersVolume} succeed`,
    )
  }

  #dropped(why: string, now: number): void {
    // One warning per kind of reason per second at most: a flood must not become a flood of
    // events. The kinds are the fixed texts of `parseMessage` (digits stripped): a bounded map.
    const kind = why.replace(/\d+/g, '#')
    if (now - (this.#dropWarnings.get(kind) ?? Number.NEGATIVE_INFINITY) < 1_000) return
    this.#dropWarnings.set(kind, now)
    this.#port.warn(SHARED_HEALTH_DROPPED, `shared health dropped a message on '${this.#o.service}': ${why}`)
  }

  #error(error: unknown): void {
    if (this.#closed) return
    // At most one event per second: a Redis that is down fails every command and reconnection.
    const now = this.#port.clock.now()
    if (now - this.#lastError < 1_000) return
    this.#lastError = now
    const event: SharedHealthErrorEvent = {
      code: SHARED_HEALTH_ERROR,
      message: `shared health on '${this.#o.service}': ${error instanceof Error ? error.message : String(error)}`,
      error,
    }
    this.#port.emit('sharedHealthError', event)
  }
}
