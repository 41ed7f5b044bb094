// The shared-health engine on the injected clock, over an in-memory bus with Redis' semantics
// (every subscriber, the sender included, gets each message; keys expire on the clock). The real
// Redis path is covered by test/integration/shared-health.test.ts.
import { describe, expect, it } from 'vitest'
import { resolveSharedHealth, type SharedHealthOptions } from '../../../src/addons/redis/options.ts'
import {
  SHARED_HEALTH_PARTITIONED,
  SharedHealth,
  type Transport,
  type TransportHandlers,
} from '../../../src/addons/redis/shared-health.ts'
import { addOnPort } from '../../../src/core/port-access.ts'
import { Balancer, type EjectedEvent, seededRandom, type WarningEvent } from '../../../src/index.ts'
import { ManualClock } from '../../helpers/clock.ts'

const ENDPOINTS = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80', 'http://10.0.0.4:80']
const [A, B, C, D] = ENDPOINTS as [string, string, string, string]

class Bus {
  readonly subscribers = new Set<TransportHandlers>()
  readonly keys = new Map<string, { text: string; expires: number }>()
  up = true
  readonly clock: ManualClock
  constructor(clock: ManualClock) {
    this.clock = clock
  }

  transport(): Transport {
    let handlers: TransportHandlers | undefined
    return {
      publish: (text) => {
        if (!this.up) return
        for (const h of this.subscribers) h.message(text)
      },
      setKey: (name, text, ttl) => {
        if (this.up) this.keys.set(name, { text, expires: this.clock.now() + ttl })
      },
      deleteKey: (name) => {
        if (this.up) this.keys.delete(name)
      },
      readKeys: async () => [...this.keys.values()].filter((k) => k.expires > this.clock.now()).map((k) => k.text),
      start: (h) => {
        handlers = h
        this.subscribers.add(h)
        h.ready()
        h.subscribed()
      },
      close: async () => {
        if (handlers) this.subscribers.delete(handlers)
      },
    }
  }
}

function fleet(n: number, options: Partial<SharedHealthOptions> = {}, maxEjectionPercent = 50) {
  const clock = new ManualClock(0)
  const bus = new Bus(clock)
  const resolved = resolveSharedHealth({
    url: 'redis://unused',
    service: 'users',
    reportInterval: 1_000,
    window: 10_000,
    requestVolume: 10,
    ...options,
  })
  const join = (i: number) => {
    const balancer = new Balancer({
      endpoints: ENDPOINTS,
      clock,
      random: seededRandom(i + 1),
      outlierDetection: false,
      breaker: false,
      maxEjectionPercent,
      picker: 'round-robin',
      retry: false,
    })
    const port = addOnPort(balancer)
    const shared = new SharedHealth(port, { ...resolved, instanceId: `i${i}` }, bus.transport())
    const events: EjectedEvent[] = []
    const warnings: WarningEvent[] = []
    balancer.on('ejected', (e) => events.push(e))
    balancer.on('restored', (e) => events.push(e))
    balancer.on('warning', (e) => warnings.push(e))
    return { balancer, port, shared, events, warnings }
  }
  const members = Array.from({ length: n }, (_, i) => join(i))
  const shared = (i: number) =>
    members[i]!.events.filter((e) => e.detector === 'shared').map((e) => `${e.endpoint.id} ${e.reason}`)
  /** `n` calls from instance `i` (round robin over the four), failing where `fails(endpoint id)`. */
  const calls = async (i: number, n: number, fails: (id: string) => boolean) => {
    const b = members[i]!.balancer
    for (let k = 0; k < n; k++) {
      await b
        .call(async (endpoint) => {
          if (fails(endpoint.id)) throw Object.assign(new Error('HTTP 500'), { status: 500 })
        })
        .catch(() => {})
    }
  }
  return { clock, bus, members, shared, calls, join }
}

describe('shared health (engine, injected clock)', () => {
  it('a lone instance never ejects anything for others; the second ejection makes a quorum everywhere', async () => {
    const { members, shared } = fleet(4)
    members[0]!.port.eject(C, 'outlier', 'consecutive-failures')
    for (let i = 0; i < 4; i++) expect(shared(i)).toEqual([])
    members[1]!.port.eject(C, 'health', 'unhealthy')
    for (let i = 0; i < 4; i++) expect(shared(i)).toEqual([`${C} shared health: 2 instances ejected it`])
    // Instance 1 restores: the quorum is gone, every instance restores through the ejection state.
    members[1]!.port.restore(C, 'health', 'healthy')
    for (let i = 0; i < 4; i++) {
      expect(shared(i)).toEqual([`${C} shared health: 2 instances ejected it`, `${C} shared health: no quorum`])
    }
  })

  it('an outlier re-admission probe is not a restoration until it passes', async () => {
    const { members, shared, calls } = fleet(3)
    members[0]!.port.eject(C, 'outlier', 'consecutive-failures')
    members[1]!.port.eject(C, 'outlier', 'consecutive-failures')
    expect(shared(2)).toEqual([`${C} shared health: 2 instances ejected it`])
    // Instance 1 lifts it on probation (outlier detection's re-admission probe): it is free to
    // probe (its shared ejection lifts), the rest of the fleet waits.
    members[1]!.port.restore(C, 'outlier', 'probe')
    expect(shared(1)).toEqual([`${C} shared health: 2 instances ejected it`, `${C} shared health: probing it`])
    expect(shared(2)).toHaveLength(1)
    // Its probe (the next attempt on C) fails: nothing changes for the others.
    await calls(1, 4, (id) => id === C)
    expect(shared(2)).toHaveLength(1)
    // The next one passes: now the fleet hears of the restoration.
    await calls(1, 4, () => false)
    expect(shared(2)).toEqual([`${C} shared health: 2 instances ejected it`, `${C} shared health: no quorum`])
  })

  it('overload pauses and shared ejections are not observations: they are never re-shared', () => {
    const { members, shared } = fleet(3)
    members[0]!.port.eject(D, 'overload', 'retry-after')
    members[1]!.port.eject(D, 'overload', 'retry-after')
    expect(shared(2)).toEqual([])
  })

  it('ejections age out of the window unless refreshed; an instance refreshes its own on every report', async () => {
    const { clock, members, shared } = fleet(3)
    members[0]!.port.eject(B, 'outlier', 'success-rate')
    members[1]!.port.eject(B, 'outlier', 'success-rate')
    expect(shared(2)).toHaveLength(1)
    // Still ejected by both after 60 s: refreshed each second, the quorum holds.
    await clock.advance(60_000)
    expect(shared(2)).toHaveLength(1)
    // Instance 1 goes silent (closed): its last report ages out after the window.
    await members[1]!.shared.close()
    await clock.advance(10_000)
    expect(shared(2)).toEqual([`${B} shared health: 2 instances ejected it`, `${B} shared health: no quorum`])
  })

  it('a late starter learns current ejections from the keys', async () => {
    const { members, join } = fleet(2)
    members[0]!.port.eject(A, 'outlier', 'consecutive-failures')
    members[1]!.port.eject(A, 'outlier', 'consecutive-failures')
    const late = join(2)
    await Promise.resolve()
    expect(late.events.map((e) => `${e.endpoint.id} ${e.detector} ${e.reason}`)).toEqual([
      `${A} shared shared health: 2 instances ejected it`,
    ])
  })

  it('the fleet failure ratio: two instances over 85 % failures eject it elsewhere', async () => {
    const { clock, shared, calls } = fleet(3)
    await calls(0, 40, (id) => id === A)
    await calls(1, 40, (id) => id === A)
    await clock.advance(1_000)
    expect(shared(2)).toEqual([`${A} shared health: 2 instances see 100% failures`])
  })

  it('a rogue instance whose calls all fail ejects nothing elsewhere and is told it looks partitioned', async () => {
    const { clock, members, shared, calls } = fleet(3)
    await calls(0, 80, () => true)
    await calls(1, 80, () => false)
    await calls(2, 80, () => false)
    // Instance 0 reports first on the first tick; it hears the others' counts by its second.
    await clock.advance(2_000)
    expect(shared(1)).toEqual([])
    expect(shared(2)).toEqual([])
    expect(members[0]!.warnings.filter((w) => w.code === SHARED_HEALTH_PARTITIONED).map((w) => w.message)).toEqual([
      'this instance looks partitioned: all 80 of its attempts failed while the other instances saw 160 of 160 succeed',
    ])
    // Once per window.
    await calls(0, 20, () => true)
    await clock.advance(1_000)
    expect(members[0]!.warnings.filter((w) => w.code === SHARED_HEALTH_PARTITIONED)).toHaveLength(1)
  })

  it('maxEjectionPercent applies to shared ejections', () => {
    const { members, shared } = fleet(3, {}, 25) // one endpoint of four
    members[0]!.port.eject(A, 'outlier', 'x')
    members[1]!.port.eject(A, 'outlier', 'x')
    members[0]!.port.eject(B, 'outlier', 'x') // over instance 0's own cap: not in force
    members[1]!.port.eject(B, 'outlier', 'x')
    expect(shared(2)).toEqual([`${A} shared health: 2 instances ejected it`])
  })

  it('while the channel is down nothing changes; reports resume when it is back', async () => {
    const { clock, bus, members, shared } = fleet(3)
    bus.up = false
    members[0]!.port.eject(A, 'outlier', 'x')
    members[1]!.port.eject(A, 'outlier', 'x')
    expect(shared(2)).toEqual([])
    bus.up = true
    await clock.advance(1_000)
    expect(shared(2)).toEqual([`${A} shared health: 2 instances ejected it`])
  })
})

describe('shared health: bounded input', () => {
  it('reads at most maxMessagesPerSecond; the rest is dropped with one warning', async () => {
    const { clock, bus, members, shared } = fleet(1, { maxMessagesPerSecond: 10 })
    const [h] = [...bus.subscribers]
    const eject = (from: string) =>
      JSON.stringify({ v: 1, from, kind: 'ejected', endpoint: A, detector: 'outlier', reason: 'x' })
    // Ten harmless messages fill the second; the two that would make a quorum are dropped.
    for (let i = 0; i < 10; i++) h!.message(JSON.stringify({ v: 1, from: 'x', kind: 'counts', counts: {} }))
    h!.message(eject('p'))
    h!.message(eject('q'))
    expect(shared(0)).toEqual([])
    expect(members[0]!.warnings).toEqual([
      {
        code: 'KEEL_SHARED_HEALTH_DROPPED',
        message: "shared health dropped a message on 'users': over the rate limit",
      },
    ])
    // The next second reads again.
    await clock.advance(1_000)
    h!.message(eject('p'))
    h!.message(eject('q'))
    expect(shared(0)).toEqual([`${A} shared health: 2 instances ejected it`])
  })
})

describe('redisSharedHealth options', () => {
  const base = { url: 'redis://127.0.0.1:6379', service: 'users' }
  it.each([
    [{ ...base, quorum: 1 }, 'Expected `quorum` to be an integer ≥ 2, got 1'],
    [{ ...base, window: 'long' }, 'Expected `window` to be an integer ≥ 100, got "long"'],
    [{ service: 'users' }, 'Expected `url` to be a Redis URL (or `client`, not both), got undefined'],
    [{ ...base, url: 'http://x' }, 'Expected `url` to be a redis:// or rediss:// URL, got "http://x"'],
    [
      { ...base, service: 'has space' },
      'Expected `service` to be a name of 1 to 128 printable characters without spaces, got "has space"',
    ],
    [{ ...base, qourum: 2 }, 'Unknown option `qourum` (did you mean `quorum`?)'],
  ])('%j → %s', (options, message) => {
    expect(() => resolveSharedHealth(options)).toThrow(message)
  })
})
