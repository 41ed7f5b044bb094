import { afterEach, describe, expect, it } from 'vitest'
import {
  Balancer,
  type BalancerOptions,
  maglev,
  type Picker,
  type PickerEndpoint,
  type PickerFactory,
  ringHash,
  seededRandom,
  type WarningEvent,
} from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { build, preference, shuffled } from './hashing-helpers.ts'

const IDS = Array.from({ length: 10 }, (_, i) => `http://10.2.0.${i}:80`)
const FACTORIES: [string, () => PickerFactory][] = [
  ['ring-hash', () => ringHash()],
  ['maglev', () => maglev()],
]

const open: Balancer<never>[] = []
afterEach(async () => {
  for (const b of open.splice(0)) await b.close()
})

/** Breakers and outlier detection off: these tests eject endpoints only when they mean to. */
function balancer(options: BalancerOptions<never>): Balancer<never> {
  const b = new Balancer({ breaker: false, outlierDetection: false, random: seededRandom(1), ...options })
  open.push(b)
  return b
}

/** Picker-level endpoints with the balancer's ids, to compute a key's expected preference order. */
function standIns(ids: readonly string[]): PickerEndpoint[] {
  return ids.map(
    (id) => ({ endpoint: { id, weight: 1 }, weight: 1, inFlight: 0, pickable: true, latencyMs: () => 1 }) as never,
  )
}

/** Settles `promise` under a manual clock, advancing it until it does. */
async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let done = false
  const watched = promise.finally(() => {
    done = true
  })
  for (let i = 0; i < 100 && !done; i++) await clock.advance(1)
  return watched
}

async function mapping(b: Balancer<never>, keys: number): Promise<string[]> {
  const out: string[] = []
  for (let k = 0; k < keys; k++) out.push(await b.call((e) => e.id, { key: `user-${k}` }))
  return out
}

describe.each(FACTORIES)('%s through a balancer', (_name, factory) => {
  it('retries a keyed call on the next distinct endpoint of the key’s preference order', async () => {
    const clock = new ManualClock()
    const b = balancer({
      endpoints: IDS,
      picker: factory(),
      clock,
      retry: { retries: 3, minTimeout: 0, maxTimeout: 0, budget: false },
    })
    const picker = build(factory(), standIns(IDS))
    for (let k = 0; k < 20; k++) {
      const key = `cart-${k}`
      const seen: string[] = []
      const value = await settle(
        clock,
        b.call(
          (endpoint) => {
            seen.push(endpoint.id)
            if (seen.length < 4) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' })
            return endpoint.id
          },
          { key, idempotent: true },
        ),
      )
      const expected = preference(picker, key).slice(0, 4)
      expect(seen, key).toEqual(expected)
      expect(value).toBe(expected[3])
    }
  })

  it('moves only an ejected endpoint’s keys, and brings them back when it is restored', async () => {
    const clock = new ManualClock()
    let shed = false
    const b = balancer({
      endpoints: IDS,
      picker: factory(),
      clock,
      retry: false,
      classify: (outcome) =>
        !outcome.ok && (outcome.error as Error).message === 'shed'
          ? { verdict: 'overloaded', retryAfterMs: 1000 }
          : undefined,
    })
    const restored: string[] = []
    b.on('restored', (event) => restored.push(event.endpoint.id))
    const before = await mapping(b, 2000)
    const victim = before[0]!
    // A 503 with Retry-After from the victim: the overload detector takes it out for a second.
    shed = true
    await expect(
      b.call(
        (endpoint) => {
          if (shed && endpoint.id === victim) throw new Error('shed')
          return endpoint.id
        },
        { key: 'user-0' },
      ),
    ).rejects.toThrow('shed')
    shed = false
    const during = await mapping(b, 2000)
    for (let k = 0; k < before.length; k++) {
      if (before[k] === victim) expect(during[k]).not.toBe(victim)
      else expect(during[k]).toBe(before[k])
    }
    await clock.advance(1000)
    expect(restored).toEqual([victim])
    expect(await mapping(b, 2000)).toEqual(before)
  })

  it('maps keys the same in balancers given the same endpoints in any order', async () => {
    const reference = await mapping(balancer({ endpoints: IDS, picker: factory() }), 300)
    for (const seed of [1, 2]) {
      expect(await mapping(balancer({ endpoints: shuffled(IDS, seed), picker: factory() }), 300)).toEqual(reference)
    }
    // A Uint8Array key is hashed as its bytes: the same as the string it encodes.
    const b = balancer({ endpoints: IDS, picker: factory() })
    const bytes = new TextEncoder().encode('user-7')
    expect(await b.call((e) => e.id, { key: bytes })).toBe(reference[7])
  })

  it('sends calls without a key to the fallback picker', async () => {
    const counting = countingFactory(factory())
    const b = balancer({ endpoints: IDS, picker: counting, fallbackPicker: 'round-robin' })
    const unkeyed: string[] = []
    for (let i = 0; i < 20; i++) unkeyed.push(await b.call((e) => e.id))
    expect(counting.picks).toBe(0)
    // Round-robin: every endpoint twice, in a fixed rotation.
    expect(new Set(unkeyed).size).toBe(10)
    expect(unkeyed.slice(10)).toEqual(unkeyed.slice(0, 10))
    await b.call((e) => e.id, { key: 'k' })
    expect(counting.picks).toBe(1)
  })

  it('rebuilds at most once per 100 ms, on its timer and never for a pick', async () => {
    const clock = new ManualClock()
    const counting = countingFactory(factory())
    const b = balancer({ endpoints: IDS.slice(0, 5), picker: counting, clock })
    expect(counting.builds).toBe(1)
    const before = await mapping(b, 500)
    const added = IDS.slice(5)
    for (const [i, id] of added.entries()) {
      await clock.advance(10)
      b.add(id)
      // Calls right after the change still use the old ring: the new endpoint gets no keys yet.
      const now = await mapping(b, 500)
      expect(now, `after adding endpoint ${i}`).toEqual(before)
    }
    expect(counting.builds).toBe(1)
    await clock.advance(50) // 100 ms after the first build
    expect(counting.builds).toBe(2)
    // The rebuilt picker maps keys as one built from scratch over the new membership.
    const fresh = async (ids: readonly string[]) => mapping(balancer({ endpoints: ids, picker: factory() }), 500)
    expect(await mapping(b, 500)).toEqual(await fresh(IDS))
    // The next change waits for the interval again.
    b.remove(IDS[0]!)
    await clock.advance(99)
    expect(counting.builds).toBe(2)
    await clock.advance(1)
    expect(counting.builds).toBe(3)
    expect(await mapping(b, 500)).toEqual(await fresh(IDS.slice(1)))
  })
})

it('warns through the balancer when membership outgrows the Maglev table', async () => {
  const clock = new ManualClock()
  const b = balancer({ endpoints: IDS.slice(0, 1), picker: maglev({ tableSize: 101 }), clock })
  const warnings: WarningEvent[] = []
  b.on('warning', (w) => warnings.push(w))
  b.add(IDS[1]!)
  b.add(IDS[2]!)
  await clock.advance(100)
  expect(warnings.map((w) => w.code)).toEqual(['KEEL_MAGLEV_TABLE_GROWN'])
  expect(warnings[0]!.message).toContain('307 slots')
})

interface CountingFactory extends PickerFactory {
  readonly builds: number
  readonly picks: number
}

/** Wraps a factory to count builds and picks. */
function countingFactory(inner: PickerFactory): CountingFactory {
  const counts = { builds: 0, picks: 0 }
  return {
    name: inner.name,
    scope: inner.scope,
    keyed: inner.keyed,
    slowStart: inner.slowStart,
    get builds() {
      return counts.builds
    },
    get picks() {
      return counts.picks
    },
    build(endpoints, context): Picker {
      counts.builds++
      const picker = inner.build(endpoints, context)
      return {
        pick(pickContext) {
          counts.picks++
          return picker.pick(pickContext)
        },
      }
    },
  } as CountingFactory
}
