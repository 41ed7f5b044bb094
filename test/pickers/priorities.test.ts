import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions, type PanicEvent, seededRandom } from '../../src/index.ts'
import { levelHealth, priorityLoads, totalPanicLoads } from '../../src/priorities/levels.ts'
import { ManualClock } from '../helpers/clock.ts'

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
const p0 = Array.from({ length: 10 }, (_, i) => `http://10.0.0.${i + 1}:80`)
const p1 = Array.from({ length: 5 }, (_, i) => `http://10.0.1.${i + 1}:80`)

const open: Balancer[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()))
})

function setup(options: Partial<BalancerOptions> = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints: [...p0, ...p1.map((url) => ({ url, priority: 1 }))],
    picker: 'round-robin',
    clock,
    random: seededRandom(42),
    retry: false,
    breaker: false,
    maxEjectionPercent: 100,
    ...options,
  })
  open.push(balancer)
  const ejected = new Set<string>()
  balancer.on('ejected', (e) => ejected.add(e.endpoint.id))
  balancer.on('restored', (e) => ejected.delete(e.endpoint.id))
  const panics: PanicEvent[] = []
  balancer.on('panic', (e) => panics.push(e))

  /** Makes the `targets` refuse until outlier detection has ejected every one of them. */
  async function eject(targets: readonly string[]): Promise<void> {
    const wanted = new Set(targets)
    for (let guard = 0; guard < 10_000 && [...wanted].some((id) => !ejected.has(id)); guard++) {
      await balancer
        .call(async (endpoint) => {
          if (wanted.has(endpoint.id)) throw refused()
        })
        .catch(() => {})
    }
    expect([...wanted].filter((id) => !ejected.has(id))).toEqual([])
  }

  /** `n` calls (keyed when `key` gives one); returns the share sent to priority 1 and picks of ejected endpoints. */
  async function measure(n: number, key?: (i: number) => string) {
    let backup = 0
    let ontoEjected = 0
    for (let i = 0; i < n; i++) {
      await balancer.call(
        async (endpoint) => {
          if (endpoint.priority === 1) backup++
          if (ejected.has(endpoint.id)) ontoEjected++
        },
        key === undefined ? undefined : { key: key(i) },
      )
    }
    return { backupShare: backup / n, ontoEjected }
  }

  /** The priority each key's call lands on. */
  async function levels(keys: readonly string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>()
    for (const key of keys) {
      await balancer.call(
        async (endpoint) => {
          result.set(key, endpoint.priority)
        },
        { key },
      )
    }
    return result
  }

  return { balancer, clock, ejected, panics, eject, measure, levels }
}

describe('priority load (Envoy, overprovisioning 1.4)', () => {
  it.each([
    [0, 0],
    [3, 0.02],
    [6, 0.44],
  ])('with %i of 10 priority-0 endpoints ejected, priority 1 takes %f of 10,000 picks', async (out, share) => {
    const t = setup()
    await t.eject(p0.slice(0, out))
    const { backupShare, ontoEjected } = await t.measure(10_000)
    expect(Math.abs(backupShare - share)).toBeLessThanOrEqual(0.01)
    expect(ontoEjected).toBe(0)
    // 40% is under the panic threshold, but the backup level has the capacity: Envoy does not panic then.
    expect(t.balancer.snapshot().panic).toEqual([])
    expect(t.panics).toEqual([])
  })

  it('does not count draining endpoints as members of their level', async () => {
    const t = setup()
    const held: (() => void)[] = []
    const hold = new Set(p0.slice(0, 4))
    // Round-robin over a healthy priority 0: the first ten calls visit each of its endpoints once.
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 10; i++) {
      pending.push(
        t.balancer.call((endpoint) =>
          hold.has(endpoint.id) ? new Promise<void>((resolve) => held.push(resolve)) : undefined,
        ),
      )
    }
    expect(held).toHaveLength(4)
    for (const id of hold) t.balancer.remove(id)
    expect(t.balancer.snapshot().endpoints.filter((e) => e.state === 'draining')).toHaveLength(4)
    // Priority 0: six members, three ejected → 50% health → 70% of the load (it would be 42% if the
    // draining four still counted).
    await t.eject(p0.slice(4, 7))
    const { backupShare, ontoEjected } = await t.measure(10_000)
    expect(Math.abs(backupShare - 0.3)).toBeLessThanOrEqual(0.01)
    expect(ontoEjected).toBe(0)
    for (const resolve of held) resolve()
    await Promise.all(pending)
  })
})

describe('keyed calls', () => {
  const keys = Array.from({ length: 1_000 }, (_, i) => `user-${i}`)
  const onBackup = (m: Map<string, number>) => new Set([...m].filter(([, p]) => p === 1).map(([k]) => k))

  it('choose their level from the key, and keep it while that level is healthy', async () => {
    const t = setup()
    expect(onBackup(await t.levels(keys)).size).toBe(0)
    await t.eject(p0.slice(0, 2)) // 80%: still full capacity
    expect(onBackup(await t.levels(keys)).size).toBe(0)

    await t.eject(p0.slice(2, 3)) // 70%: 2% of the load spills
    const at70 = onBackup(await t.levels(keys))
    expect(onBackup(await t.levels(keys))).toEqual(at70)
    expect(at70.size).toBeGreaterThan(0)
    expect(Math.abs(at70.size / keys.length - 0.02)).toBeLessThanOrEqual(0.015)

    await t.eject(p0.slice(3, 6)) // 40%: 44% spills; keys only ever move toward the backup
    const at40 = onBackup(await t.levels(keys))
    expect([...at70].filter((k) => !at40.has(k))).toEqual([])
    expect(Math.abs(at40.size / keys.length - 0.44)).toBeLessThanOrEqual(0.04)

    await t.clock.advance(30_000) // the ejections lift
    expect(t.ejected.size).toBe(0)
    expect(onBackup(await t.levels(keys)).size).toBe(0)
  })

  it('send unkeyed calls by the random draw, not by a fixed level', async () => {
    const t = setup()
    await t.eject(p0.slice(0, 6))
    const { backupShare } = await t.measure(2_000, () => 'one-key')
    expect([0, 1]).toContain(backupShare)
    const unkeyed = await t.measure(2_000)
    expect(unkeyed.backupShare).toBeGreaterThan(0.3)
    expect(unkeyed.backupShare).toBeLessThan(0.6)
  })
})

describe('panic per level', () => {
  it('when the levels together lack capacity, a level under the threshold balances over all its members', async () => {
    const t = setup()
    // Priority 0 at 60% (carries 84%), priority 1 at 0%: total health 84% < 100%.
    await t.eject([...p0.slice(0, 4), ...p1])
    expect(t.balancer.snapshot().panic).toEqual([1])
    expect(t.panics.at(-1)).toEqual({ active: true, eligible: 0, total: 5, priority: 1 })
    const { backupShare, ontoEjected } = await t.measure(1_000)
    expect(backupShare).toBe(0)
    expect(ontoEjected).toBe(0)
  })

  it('when every level panics, the load follows member counts and reaches ejected endpoints', async () => {
    const t = setup()
    // Priority 0 at 30% and priority 1 at 20%: both under 50%, total health 70%.
    await t.eject([...p0.slice(0, 7), ...p1.slice(0, 4)])
    expect(t.balancer.snapshot().panic).toEqual([0, 1])
    const { backupShare, ontoEjected } = await t.measure(10_000)
    expect(Math.abs(backupShare - 5 / 15)).toBeLessThanOrEqual(0.01)
    expect(ontoEjected).toBeGreaterThan(0)
  })
})

describe('priorityLoads', () => {
  // Envoy's tables (arch_overview/upstream/load_balancing/priority), health given as eligible of 100.
  const loads = (...eligible: number[]) => {
    const cumulative = priorityLoads(eligible.map((e) => levelHealth(e, 100)))
    return [...cumulative].map((c, i) => c - (i === 0 ? 0 : cumulative[i - 1]!))
  }
  const close = (actual: number[], expected: number[]) => {
    expect(actual).toHaveLength(expected.length)
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 2)
  }

  it('matches Envoy for two and three levels', () => {
    close(loads(100, 100), [1, 0])
    close(loads(72, 100), [1, 0])
    close(loads(71, 100), [0.994, 0.006])
    close(loads(50, 100), [0.7, 0.3])
    close(loads(25, 100), [0.35, 0.65])
    close(loads(0, 100), [0, 1])
    close(loads(25, 25), [0.5, 0.5])
    close(loads(25, 25, 100), [0.35, 0.35, 0.3])
    close(loads(25, 25, 20), [0.357, 0.357, 0.286])
    close(loads(0, 0), [1, 0])
  })

  it('treats a level at exactly 1/1.4 health as fully healthy', () => {
    expect(levelHealth(5, 7)).toBe(1)
    expect(levelHealth(10, 14)).toBe(1)
  })

  it('splits by member count in total panic', () => {
    expect([...totalPanicLoads([10, 5])]).toEqual([10 / 15, 1])
    expect([...totalPanicLoads([0, 0])]).toEqual([1, 1])
  })
})
