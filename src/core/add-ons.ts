import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import type { DetectorName } from '../model/detector.ts'
import type { CallObservation } from './call-observation.ts'
import type {
  AddOnPort,
  AttemptObserver,
  CallObserver,
  EjectionListener,
  EjectionPort,
  EndpointState,
  MemberObserver,
  Timers,
} from './ports.ts'

/** What the add-on port reaches in the hub. */
export interface AddOnHost {
  readonly clock: Clock
  readonly random: Random
  readonly timers: Timers
  readonly observers: AttemptObserver[]
  readonly memberObservers: MemberObserver[]
  readonly set: {
    readonly members: ReadonlyMap<string, EndpointState>
    find(id: string): EndpointState | undefined
    all(): IterableIterator<EndpointState>
  }
  readonly ejection: EjectionPort & { addListener(listener: EjectionListener): () => void }
  readonly observation: CallObservation
  emit(event: string, payload: unknown): void
  warn(code: string, message: string): void
}

/**
 * The hub's `AddOnPort`: how keel's own add-on entry points (a metrics exporter, shared health)
 * plug observers and ejections into an existing balancer, reached by `addOnPort(balancer)`.
 */
export class AddOns implements AddOnPort {
  readonly #core: AddOnHost

  constructor(core: AddOnHost) {
    this.#core = core
  }

  get clock(): Clock {
    return this.#core.clock
  }

  get random(): Random {
    return this.#core.random
  }

  get timers(): Timers {
    return this.#core.timers
  }

  emit(event: string, payload: unknown): void {
    this.#core.emit(event, payload)
  }

  warn(code: string, message: string): void {
    this.#core.warn(code, message)
  }

  members(): IterableIterator<EndpointState> {
    return this.#core.set.members.values()
  }

  addAttemptObserver(observer: AttemptObserver): () => void {
    // An add-on's throw must not stop the attempt's end: it surfaces on a microtask instead.
    const safe: AttemptObserver = {
      attemptEnded(attempt, now) {
        try {
          observer.attemptEnded(attempt, now)
        } catch (error) {
          queueMicrotask(() => {
            throw error
          })
        }
      },
    }
    this.#core.observers.push(safe)
    return () => remove(this.#core.observers, safe)
  }

  addMemberObserver(observer: MemberObserver): () => void {
    this.#core.memberObservers.push(observer)
    for (const state of this.#core.set.all()) observer.attach(state)
    return () => remove(this.#core.memberObservers, observer)
  }

  addEjectionListener(listener: EjectionListener): () => void {
    return this.#core.ejection.addListener(listener)
  }

  addCallObserver(observer: CallObserver): () => void {
    return this.#core.observation.add(observer)
  }

  eject(endpointId: string, detector: DetectorName, reason: string, until?: number): boolean {
    const state = this.#core.set.members.get(endpointId)
    return state !== undefined && this.#core.ejection.eject(state, detector, reason, until)
  }

  restore(endpointId: string, detector: DetectorName, reason: string): boolean {
    const state = this.#core.set.find(endpointId)
    if (state === undefined) return false
    this.#core.ejection.restore(state, detector, reason)
    return true
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item)
  if (i !== -1) list.splice(i, 1)
}
