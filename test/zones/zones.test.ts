import { afterEach, describe, expect, it } from 'vitest'
import { addOnPort } from '../../src/core/port-access.ts'
import { Balancer, type BalancerOptions, type Endpoint, type EndpointInput, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

// Zone-aware routing (docs/zones.md): 9 endpoints in zones a, b, c; the caller is in zone a.

const ZONES = ['a', 'b', 'c'] as const
const nine: EndpointInput[] = ZONES.flatMap((zone, z) =>
  [1, 2, 3].map((i) => ({ url: `http://10.0.${z}.${i}:80`, zone })),
)
const local = (n = 3) => nine.slice(0, n).map((e) => `http://${(e as { url: string }).url.slice(7)}`)

const open: Balancer[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()))
})

function setup(options: Partial<BalancerOptions> = {}, endpoints: readonly EndpointInput[] = nine, zoned = true) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints,
    clock,
    random: seededRandom(7),
    ...(zoned ? { localZone: 'a' } : {}),
    maxEjectionPercent: 100,
    ...options,
  })
  open.push(balancer)
  const port = addOnPort(balancer)
  /** Takes endpoints out as a failing health check would (not capped by maxEjectionPercent). */
  const eject = (ids: readonly string[]) => {
    for (const id of ids) expect(port.eject(id, 'health', 'test')).toBe(true)
  }
  /** `n` sequential calls answering at once; the zone of every attempt. */
  async function zonesOf(n: number, options: { key?: (i: number) => string } = {}): Promise<string[]> {
    const seen: string[] = []
    for (let i = 0; i < n; i++) {
      await balancer.call(
        async (endpoint) => {
          seen.push(endpoint.zone ?? '-')
        },
        options.key === undefined ? { idempotent: true } : { idempotent: true, key: options.key(i) },
      )
    }
    return seen
  }
  return { balancer, clock, eject, zonesOf }
}

const share = (zones: readonly string[], zone: string) => zones.filter((z) => z === zone).length / zones.length

describe('zone-aware routing', () => {
  it('keeps at least 99% of calls in the local zone while it is healthy', async () => {
    const { zonesOf } = setup()
    const zones = await zonesOf(3_000)
    // The clock does not move: at most one latency probe left the zone.
    expect(zones.filter((z) => z !== 'a').length).toBeLessThanOrEqual(1)
    expect(share(zones, 'a')).toBeGreaterThanOrEqual(0.99)
  })

  it('spills 1 − 1.4 × eligible/members to the other zones: 1 of 3 local eligible keeps 46.7%', async () => {
    const { eject, zonesOf } = setup()
    eject(local().slice(1))
    const zones = await zonesOf(3_000)
    expect(Math.abs(share(zones, 'a') - (1 / 3) * 1.4)).toBeLessThanOrEqual(0.03)
    // The spill-over goes to b and c alike (unranked zones are equally near).
    expect(Math.abs(share(zones, 'b') - share(zones, 'c'))).toBeLessThanOrEqual(0.05)
  })

  it('keeps 2/3 × 1.4 = 93.3% local at 2 of 3 eligible', async () => {
    const { eject, zonesOf } = setup({ zoneAware: { latency: false } })
    eject(local().slice(2))
    expect(Math.abs(share(await zonesOf(3_000), 'a') - (2 / 3) * 1.4)).toBeLessThanOrEqual(0.03)
  })

  it('sends nothing local when no local endpoint is eligible, and fails no idempotent call', async () => {
    const failing = new Set(local())
    // Breakers open at the first refusal and stay open (no half-open trial during the test). Three
    // retries: a call made before any ejection may try all three local endpoints (a retry stays in
    // the zone while it has another eligible endpoint), then leaves the zone.
    const { balancer, clock, zonesOf } = setup({
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 50, resetTimeout: 2_000_000_000 },
      retry: { retries: 3 },
    })
    const ejected = new Set<string>()
    balancer.on('ejected', (e) => ejected.add(e.endpoint.id))
    let failed = 0
    let localAfter = 0
    for (let i = 0; i < 3_000; i++) {
      const allOut = ejected.size === 3
      const call = balancer
        .call(
          async (endpoint: Endpoint) => {
            if (allOut && endpoint.zone === 'a') localAfter++
            if (failing.has(endpoint.id))
              throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
          },
          { idempotent: true },
        )
        .catch(() => failed++)
      await clock.advance(500) // retry backoffs
      await call
    }
    expect([...ejected].sort()).toEqual([...failing].sort())
    expect(failed).toBe(0)
    expect(localAfter).toBe(0)
    expect(share(await zonesOf(1_000), 'a')).toBe(0)
  })

  it('fills the nearest ranked zone first when the local zone is out', async () => {
    const { eject, zonesOf } = setup({ zoneAware: { zones: ['a', 'b', 'c'] } })
    eject(local())
    const zones = await zonesOf(1_000)
    expect(share(zones, 'b')).toBe(1)
  })

  it('spills past a degraded nearest zone by its own health', async () => {
    const { eject, zonesOf } = setup({ zoneAware: { zones: { b: 1, c: 2 }, latency: false } })
    // a: none eligible; b: 2 of 3 (health 2/3 × 1.4 = 93.3%); c takes the rest. (5 of 9 eligible:
    // the level is over the panic threshold, so it stays zone-aware.)
    eject([...local(), 'http://10.0.1.3:80'])
    const zones = await zonesOf(3_000)
    expect(Math.abs(share(zones, 'b') - (2 / 3) * 1.4)).toBeLessThanOrEqual(0.03)
    expect(Math.abs(share(zones, 'c') - (1 - (2 / 3) * 1.4))).toBeLessThanOrEqual(0.03)
    expect(share(zones, 'a')).toBe(0)
  })

  it('is zone-blind while its level is in panic (Envoy)', async () => {
    const { eject, zonesOf } = setup({ zoneAware: { latency: false }, picker: 'round-robin' })
    // 4 of 9 eligible, total health 4/9 × 1.4 < 1: panic, over all nine members.
    eject([...local(), 'http://10.0.1.2:80', 'http://10.0.1.3:80'])
    expect(share(await zonesOf(900), 'a')).toBeCloseTo(1 / 3, 5)
  })

  it('stays zone-blind under minEndpoints (6): a 4-endpoint fleet', async () => {
    const four = nine.slice(0, 2).concat(nine.slice(3, 5))
    const { zonesOf } = setup({ picker: 'round-robin' }, four)
    expect(share(await zonesOf(1_000), 'a')).toBe(0.5)
    const { zonesOf: lowered } = setup({ picker: 'round-robin', zoneAware: { minEndpoints: 4 } }, four)
    expect(share(await lowered(1_000), 'a')).toBeGreaterThanOrEqual(0.99)
  })

  it('is zone-blind without localZone or with zoneAware: false', async () => {
    const { zonesOf } = setup({ picker: 'round-robin' }, nine, false)
    expect(share(await zonesOf(900), 'a')).toBeCloseTo(1 / 3, 5)
    const { zonesOf: off } = setup({ zoneAware: false, picker: 'round-robin' })
    expect(share(await off(900), 'a')).toBeCloseTo(1 / 3, 5)
  })

  it('retries in the zone while another local endpoint is eligible, elsewhere when none is', async () => {
    const { balancer, clock } = setup({ zoneAware: { latency: false } })
    const run = async () => {
      const attempts: string[] = []
      let first = true
      const call = balancer.call(
        async (endpoint) => {
          attempts.push(endpoint.zone ?? '-')
          if (first) {
            first = false
            throw Object.assign(new Error('503'), { status: 503 })
          }
        },
        { idempotent: true },
      )
      await clock.advance(1_000)
      await call
      return attempts
    }
    expect(await run()).toEqual(['a', 'a'])
    const { balancer: lone, eject, clock: loneClock } = setup({ zoneAware: { latency: false } })
    eject(local().slice(1))
    // One local endpoint: its retry must leave the zone (a share of calls spill anyway; find a local first try).
    let seen: string[] = []
    for (let i = 0; i < 20 && seen[0] !== 'a'; i++) {
      seen = []
      let first = true
      const call = lone.call(
        async (endpoint) => {
          seen.push(endpoint.zone ?? '-')
          if (first) {
            first = false
            throw Object.assign(new Error('503'), { status: 503 })
          }
        },
        { idempotent: true },
      )
      await loneClock.advance(1_000)
      await call
    }
    expect(seen[0]).toBe('a')
    expect(seen[1]).not.toBe('a')
  })

  it('keeps key affinity inside the local zone with a hash picker', async () => {
    const { zonesOf, balancer } = setup({ picker: 'ring-hash' })
    const keys = (i: number) => `user-${i % 200}`
    expect(share(await zonesOf(1_000, { key: keys }), 'a')).toBe(1)
    const byKey = new Map<string, Set<string>>()
    for (let i = 0; i < 400; i++) {
      await balancer.call(
        async (endpoint) => {
          const set = byKey.get(keys(i)) ?? new Set<string>()
          set.add(endpoint.id)
          byKey.set(keys(i), set)
        },
        { key: keys(i) },
      )
    }
    expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true)
    // The keys spread over the three local endpoints.
    expect(new Set([...byKey.values()].map((ids) => [...ids][0])).size).toBe(3)
  })

  it('prefers the zone inside each priority level', async () => {
    const backups: EndpointInput[] = ZONES.flatMap((zone, z) => [{ url: `http://10.9.${z}.1:80`, zone, priority: 1 }])
    const { zonesOf, balancer } = setup({}, [...nine, ...backups])
    const zones = await zonesOf(1_000)
    expect(share(zones, 'a')).toBeGreaterThanOrEqual(0.99)
    expect(balancer.snapshot().endpoints.filter((e) => e.priority === 1 && e.requests > 0)).toEqual([])
  })

  it('validates its options, naming them and showing the value', () => {
    const make = (o: Partial<BalancerOptions>) => () => new Balancer({ endpoints: nine, ...o })
    expect(make({ localZone: '' })).toThrow(/`localZone`.*""/)
    expect(make({ localZone: 'a', zoneAware: { minEndpoints: -1 } })).toThrow(/`zoneAware.minEndpoints`.*-1/)
    expect(make({ localZone: 'a', zoneAware: { overprovisioning: 0.5 } })).toThrow(/`zoneAware.overprovisioning`.*0.5/)
    expect(make({ localZone: 'a', zoneAware: { zones: ['b', 'b'] } })).toThrow(/`zoneAware.zones\[1\]`.*"b"/)
    expect(make({ localZone: 'a', zoneAware: { latency: { ratio: 1 } } })).toThrow(/`zoneAware.latency.ratio`.*1/)
    expect(make({ zoneAware: {} })).toThrow(/`localZone`/)
    expect(make({ localZone: 'a', zoneAware: { nearest: 1 } as never })).toThrow(/zoneAware.nearest/)
  })
})

describe('latency shedding', () => {
  /** Closed-loop calls for `ms` of clock time; each attempt takes its zone's latency on the clock. */
  async function closedLoop(
    balancer: Balancer,
    clock: ManualClock,
    latency: Record<string, number>,
    ms: number,
    workers = 4,
  ): Promise<{ at: number; zone: string }[]> {
    const seen: { at: number; zone: string }[] = []
    const end = clock.now() + ms
    const loop = async () => {
      while (clock.now() < end) {
        await balancer.call(
          async (endpoint) => {
            const zone = endpoint.zone ?? '-'
            seen.push({ at: clock.now(), zone })
            await new Promise<void>((resolve) => clock.setTimeout(resolve, latency[zone]!))
          },
          { idempotent: true },
        )
      }
    }
    const loops = Array.from({ length: workers }, loop)
    await clock.advance(ms + 1_000)
    await Promise.all(loops)
    return seen
  }

  it('sheds most of the load of a local zone 10× slower than the others', async () => {
    const { balancer, clock } = setup()
    const seen = await closedLoop(balancer, clock, { a: 50, b: 5, c: 5 }, 60_000)
    const late = seen.filter((s) => s.at >= clock.now() - 31_000).map((s) => s.zone)
    // L = 50, R = 5: the line is 2 × 5 + 1 = 11 ms, the local share 0.8 × 11 / 50 = 17.6%.
    expect(share(late, 'a')).toBeGreaterThan(0.12)
    expect(share(late, 'a')).toBeLessThan(0.24)
  })

  it('keeps every call local when the local zone is as fast as the others, but for rare probes', async () => {
    const { balancer, clock } = setup()
    const seen = await closedLoop(balancer, clock, { a: 5, b: 6, c: 6 }, 60_000)
    const away = seen.filter((s) => s.zone !== 'a').length
    // At most one probe per 10 s of clock time.
    expect(away).toBeLessThanOrEqual(7)
    expect(
      share(
        seen.map((s) => s.zone),
        'a',
      ),
    ).toBeGreaterThan(0.999)
  })

  it('takes the load back once the local zone is fast again', async () => {
    const { balancer, clock } = setup()
    await closedLoop(balancer, clock, { a: 50, b: 5, c: 5 }, 30_000)
    const seen = await closedLoop(balancer, clock, { a: 5, b: 5, c: 5 }, 30_000)
    const late = seen.filter((s) => s.at >= clock.now() - 11_000).map((s) => s.zone)
    expect(share(late, 'a')).toBeGreaterThanOrEqual(0.99)
  })

  it('recomputes the rule on a timer that close() stops', async () => {
    const clock = new ManualClock()
    const options = { endpoints: nine, clock, breaker: false, outlierDetection: false, retry: false } as const
    const plain = new Balancer(options)
    await plain.call(async () => {})
    const base = clock.pending
    await plain.close()
    const zoned = new Balancer({ ...options, localZone: 'a' })
    await zoned.call(async () => {})
    expect(clock.pending).toBe(base + 1)
    await clock.advance(5_000) // the timer re-arms itself
    expect(clock.pending).toBe(base + 1)
    await zoned.close()
    expect(clock.pending).toBe(0)
  })

  it('routes by health only with latency: false', async () => {
    const { balancer, clock } = setup({ zoneAware: { latency: false } })
    const seen = await closedLoop(balancer, clock, { a: 50, b: 5, c: 5 }, 20_000)
    expect(
      share(
        seen.map((s) => s.zone),
        'a',
      ),
    ).toBe(1)
  })
})
