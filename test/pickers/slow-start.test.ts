import { describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import {
  Balancer,
  type BalancerOptions,
  type Endpoint,
  type PickerFactory,
  roundRobin,
  seededRandom,
} from '../../src/index.ts'
import { rampStep } from '../../src/warmup/slow-start.ts'
import { ManualClock } from '../helpers/clock.ts'

const URLS = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80', 'http://10.0.0.4:80']
const WINDOW = 10_000

/**
 * Envoy's slow-start weight, written out independently of keel's code (Envoy docs, "Slow start
 * mode"; `EdfLoadBalancerBase::applySlowStartFactor`): weight × max(time_factor^(1/aggression),
 * min_weight_percent), time_factor = max(1 ms, time in slow start) / window, until the window ends.
 */
function envoyWeight(weight: number, elapsedMs: number, window: number, minPercent: number, aggression: number) {
  if (elapsedMs >= window) return weight
  const timeFactor = Math.max(1, elapsedMs) / window
  return weight * Math.max(timeFactor ** (1 / aggression), minPercent / 100)
}

function setup(options: Partial<BalancerOptions> = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints: [{ url: URLS[0]!, weight: 4 }, ...URLS.slice(1)],
    picker: 'weighted-round-robin',
    // Their timers would share the queue this test counts.
    breaker: false,
    outlierDetection: false,
    slowStart: { window: WINDOW },
    clock,
    random: seededRandom(3),
    ...options,
  })
  const core = coreOf(balancer)
  const state = (url: string) => core.set.members.get(`http://${url.slice(7).toLowerCase()}`)!
  return { clock, balancer, core, weight: (i: number) => state(URLS[i]!).weight }
}

/** Makes endpoint 0 answer one call with 429 Retry-After: 1 (paused for 1 s, then restored). */
async function pauseFirst(balancer: Balancer): Promise<void> {
  let paused = false
  const fn = (endpoint: Endpoint<never>) => {
    if (!paused && endpoint.id === 'http://10.0.0.1:80') {
      paused = true
      throw Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '1' } })
    }
    return 'ok'
  }
  while (!paused) await balancer.call(fn, { retry: false }).catch(() => undefined)
}

describe('slow start', () => {
  it.each([
    [10, 1],
    [10, 2],
    [25, 0.5],
  ])(
    'gives a restored endpoint %i% of its weight at first and its full weight at the end of the window (aggression %d), following Envoy’s formula along the ramp',
    async (minWeightPercent, aggression) => {
      const { clock, balancer, weight, core } = setup({ slowStart: { window: WINDOW, minWeightPercent, aggression } })
      expect(weight(0)).toBe(4)
      await pauseFirst(balancer)
      const pausedAt = clock.now()
      await clock.advance(1_000)
      const restoredAt = pausedAt + 1_000
      expect(clock.now()).toBe(restoredAt)
      expect(weight(0)).toBe(4 * (minWeightPercent / 100))
      // The ramp is recomputed every rampStep(window) = 100 ms; check it at points on that grid.
      expect(rampStep(WINDOW)).toBe(100)
      for (const at of [100, 1_000, 2_500, 5_000, 7_500, 9_900]) {
        await clock.advance(restoredAt + at - clock.now())
        expect(weight(0)).toBeCloseTo(envoyWeight(4, at, WINDOW, minWeightPercent, aggression), 12)
        for (const i of [1, 2, 3]) expect(weight(i)).toBe(1)
      }
      await clock.advance(restoredAt + WINDOW - clock.now())
      expect(weight(0)).toBe(4)
      // The ramp is over: no timer is left behind.
      expect(core.timers.size).toBe(0)
      await balancer.close()
    },
  )

  it('sends a ramping endpoint its effective share of picks with a proportional picker', async () => {
    const { clock, balancer, weight } = setup()
    await pauseFirst(balancer)
    await clock.advance(1_000 + 5_000)
    const effective = weight(0)
    expect(effective).toBeCloseTo(4 * 0.5, 12)
    const counts = new Map<string, number>()
    const fn = (endpoint: Endpoint<never>) => counts.set(endpoint.id, (counts.get(endpoint.id) ?? 0) + 1)
    // 500 whole cycles of the smooth weighted schedule (weights 2:1:1:1), at one instant.
    for (let i = 0; i < 2_500; i++) await balancer.call(fn)
    expect(counts.get('http://10.0.0.1:80')).toBe(1_000)
    await balancer.close()
  })

  it.each(['round-robin', 'random', 'least-request'] as const)(
    'applies in %s: the ramping endpoint takes its effective share',
    async (picker) => {
      const { clock, balancer, weight } = setup({ picker })
      await pauseFirst(balancer)
      await clock.advance(1_000 + 5_000)
      expect(weight(0)).toBeCloseTo(2, 12)
      let hits = 0
      const fn = (endpoint: Endpoint<never>) => (endpoint.id === URLS[0] ? hits++ : 0)
      for (let i = 0; i < 5_000; i++) await balancer.call(fn)
      // Effective weights 2:1:1:1 (full: 4:1:1:1, a share of 4/7).
      const p = 2 / 5
      expect(Math.abs(hits - 5_000 * p)).toBeLessThan(3 * Math.sqrt(5_000 * p * (1 - p)))
      await balancer.close()
    },
  )

  it('applies in p2c-ewma: the ramping endpoint counts as having a fraction of its capacity', async () => {
    const { clock, balancer, weight, core } = setup({ picker: 'p2c-ewma' })
    await pauseFirst(balancer)
    await clock.advance(1_000 + 5_000)
    expect(weight(0)).toBeCloseTo(2, 12)
    // Endpoint 0 holds two calls in flight: at full weight 4 its cost would be 3/4 of an idle
    // peer's and it would win; at weight 2 it is 3/2 and it loses every comparison.
    const state = core.set.members.get(URLS[0]!)!
    // Every endpoint answered once in 10 ms: equal estimates, so only weight and in-flight differ
    // (the calls below take no time on the manual clock and leave the estimates where they are).
    for (const member of core.set.members.values()) member.load.observe(clock.now(), 10)
    state.inFlight += 2
    let hits = 0
    const fn = (endpoint: Endpoint<never>) => (endpoint.id === URLS[0] ? hits++ : 0)
    for (let i = 0; i < 1_000; i++) await balancer.call(fn)
    expect(hits).toBe(0)
    state.inFlight -= 2
    await balancer.close()
  })

  it('ramps an endpoint added later, but not the balancer’s first endpoints', async () => {
    const { clock, balancer, core } = setup()
    for (const state of core.set.members.values()) expect(state.weight).toBe(state.endpoint.weight)
    expect(core.timers.size).toBe(0)
    await clock.advance(60_000)
    balancer.add({ url: 'http://10.0.0.5:80', weight: 2 })
    const added = () => core.set.members.get('http://10.0.0.5:80')!.weight
    await clock.advance(0)
    expect(added()).toBe(2 * 0.1)
    await clock.advance(3_000)
    expect(added()).toBeCloseTo(envoyWeight(2, 3_000, WINDOW, 10, 1), 12)
    await clock.advance(7_000)
    expect(added()).toBe(2)
    await balancer.close()
  })

  it('ramps an endpoint revived while it was draining', async () => {
    const { clock, balancer, core, weight } = setup()
    // An attempt in flight on endpoint 0 keeps it draining once removed.
    const release: (() => void)[] = []
    const hold = (endpoint: Endpoint<never>) =>
      endpoint.id === URLS[0] ? new Promise<string>((resolve) => release.push(() => resolve('ok'))) : 'ok'
    const calls: Promise<unknown>[] = []
    while (core.set.members.get(URLS[0]!)!.inFlight === 0) calls.push(balancer.call(hold, { retry: false }))
    balancer.remove(URLS[0]!)
    await clock.advance(2_000)
    expect(core.set.draining.has(URLS[0]!)).toBe(true)
    balancer.add({ url: URLS[0]!, weight: 4 })
    await clock.advance(0)
    expect(weight(0)).toBe(4 * 0.1)
    await clock.advance(WINDOW)
    expect(weight(0)).toBe(4)
    for (const r of release) r()
    await Promise.all(calls)
    await balancer.close()
  })

  it('leaves weights static for pickers that do not take slow start, such as hash pickers', async () => {
    const inner = roundRobin()
    const hashLike: PickerFactory = { name: 'hash-like', scope: 'members', build: inner.build }
    const optedOut: PickerFactory = { name: 'opted-out', slowStart: false, build: inner.build }
    for (const picker of [hashLike, optedOut]) {
      const { clock, balancer, weight, core } = setup({ picker })
      await pauseFirst(balancer)
      await clock.advance(1_000)
      expect(weight(0)).toBe(4)
      expect(core.timers.size).toBe(0)
      await balancer.close()
    }
  })

  it('stops its timer when the balancer closes in the middle of a ramp', async () => {
    const { clock, balancer, core } = setup()
    await pauseFirst(balancer)
    await clock.advance(2_000)
    expect(core.timers.size).toBe(1)
    await balancer.close()
    expect(core.timers.size).toBe(0)
    expect(clock.pending).toBe(0)
  })
})
