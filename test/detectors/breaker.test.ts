import { afterEach, describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer, type BalancerOptions, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

function make(n: number, options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const endpoints = Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`)
  const balancer = new Balancer({
    endpoints,
    clock,
    random: seededRandom(1),
    picker: 'round-robin',
    retry: false,
    outlierDetection: false,
    ...options,
  })
  balancers.push(balancer)
  const events: string[] = []
  for (const event of ['breakerOpen', 'breakerHalfOpen', 'breakerClose'] as const) {
    balancer.on(event, ({ endpoint }) => events.push(`${event} ${endpoint.id}`))
  }
  return { balancer, clock, endpoints, events }
}

const fail = () => Promise.reject(Object.assign(new Error('503'), { status: 503 }))
const stateOf = (b: Balancer<unknown>, id: string) => b.snapshot().endpoints.find((e) => e.id === id)!

/** Runs `n` calls that go to `id` (round-robin over one endpoint) with the given outcome. */
async function calls(balancer: Balancer<unknown>, n: number, ok: boolean): Promise<void> {
  for (let i = 0; i < n; i++) await balancer.call(ok ? async () => 'ok' : fail).catch(() => {})
}

describe('per-endpoint circuit breaker', () => {
  it('opens above 50% failures once 20 attempts are in the window, not at 19 and not at exactly 50%', async () => {
    const { balancer, endpoints, events } = make(1)
    await calls(balancer, 19, false)
    expect(events).toEqual([])
    await calls(balancer, 1, false)
    expect(events).toEqual([`breakerOpen ${endpoints[0]}`])

    const even = make(1)
    await calls(even.balancer, 10, true)
    await calls(even.balancer, 10, false)
    expect(even.events).toEqual([])
    await calls(even.balancer, 1, false)
    expect(even.events).toEqual([`breakerOpen ${even.endpoints[0]}`])
  })

  it("counts a closed breaker's successes in opossum's window by the bucket's end, without keeping their latencies", async () => {
    const { balancer, clock, endpoints } = make(1)
    const core = coreOf(balancer)
    type Bucket = { fires: number; successes: number; failures: number; latencyTimes: number[] }
    const buckets = () =>
      (core.set.members.get(endpoints[0]!)!.breaker as { breaker: { status: { window: Bucket[] } } }).breaker.status
        .window
    const sum = (key: 'fires' | 'successes' | 'failures') => buckets().reduce((n, bucket) => n + bucket[key], 0)
    await calls(balancer, 1_000, true)
    // Counted in bulk: nothing has read the window yet.
    expect(sum('fires')).toBe(0)
    await clock.advance(1_000)
    expect([sum('fires'), sum('successes'), sum('failures')]).toEqual([1_000, 1_000, 0])
    await calls(balancer, 30, true)
    await calls(balancer, 1, false)
    // A failure counts the successes before it, then itself (one latency kept: the failure's).
    expect([sum('fires'), sum('successes'), sum('failures')]).toEqual([1_031, 1_030, 1])
    expect(buckets().reduce((n, bucket) => n + bucket.latencyTimes.length, 0)).toBe(1)
  })

  it('forgets attempts that left the rolling window', async () => {
    const { balancer, clock, events } = make(1)
    await calls(balancer, 15, false)
    await clock.advance(10_000)
    await calls(balancer, 15, false)
    expect(events).toEqual([])
  })

  it('admits exactly one half-open trial; a cancelled trial leaves it half-open; a success closes it', async () => {
    const { balancer, clock, endpoints, events } = make(3)
    const [a] = endpoints as [string, string, string]
    const attemptsTo = new Map<string, number>()
    let hangOnA = false
    let trialController: AbortController | undefined
    const run = () => {
      const controller = new AbortController()
      return balancer.call(
        async (endpoint, attempt) => {
          attemptsTo.set(endpoint.id, (attemptsTo.get(endpoint.id) ?? 0) + 1)
          if (endpoint.id === a && hangOnA) {
            trialController = controller
            return new Promise((_r, reject) =>
              attempt.signal.addEventListener('abort', () => reject(attempt.signal.reason)),
            )
          }
          if (endpoint.id === a && events.length === 0) return fail()
          return 'ok'
        },
        { signal: controller.signal },
      )
    }
    // Open a's breaker: round-robin sends a every third call, each failing.
    for (let i = 0; i < 60; i++) await run().catch(() => {})
    expect(events).toEqual([`breakerOpen ${a}`])
    expect(stateOf(balancer, a).states).toEqual(['ejected', 'open'])
    attemptsTo.clear()
    await calls(balancer, 30, true)
    expect(attemptsTo.get(a)).toBeUndefined()

    await clock.advance(10_000)
    expect(events.at(-1)).toBe(`breakerHalfOpen ${a}`)
    hangOnA = true
    const running = Array.from({ length: 13 }, () => run().catch((e: unknown) => e))
    await flush()
    // One trial reached a; the other twelve calls were refused there and went elsewhere.
    expect(attemptsTo.get(a)).toBe(1)
    expect(trialController).toBeDefined()
    trialController!.abort(new Error('caller left'))
    const outcomes = await Promise.all(running)
    expect(outcomes.filter((o) => o instanceof Error)).toEqual([new Error('caller left')])
    expect(stateOf(balancer, a).state).toBe('half-open')

    hangOnA = false
    for (let i = 0; i < 3; i++) await run()
    expect(attemptsTo.get(a)).toBe(2)
    expect(events.at(-1)).toBe(`breakerClose ${a}`)
    expect(stateOf(balancer, a).state).toBe('active')
  })

  it('does not reopen on one failure right after closing (a fresh window)', async () => {
    const { balancer, clock, endpoints, events } = make(1, { maxEjectionPercent: 100 })
    await calls(balancer, 20, false)
    await clock.advance(10_000)
    await calls(balancer, 1, true)
    expect(events).toEqual([
      `breakerOpen ${endpoints[0]}`,
      `breakerHalfOpen ${endpoints[0]}`,
      `breakerClose ${endpoints[0]}`,
    ])
    await calls(balancer, 1, false)
    expect(events).toHaveLength(3)
    expect(stateOf(balancer, endpoints[0]!).state).toBe('active')
  })

  it('reopens when the trial fails, for another resetTimeout', async () => {
    const { balancer, clock, endpoints, events } = make(1)
    await calls(balancer, 20, false)
    await clock.advance(10_000)
    await calls(balancer, 1, false)
    expect(events.slice(-2)).toEqual([`breakerHalfOpen ${endpoints[0]}`, `breakerOpen ${endpoints[0]}`])
    await clock.advance(9_999)
    expect(events.at(-1)).toBe(`breakerOpen ${endpoints[0]}`)
    await clock.advance(1)
    expect(events.at(-1)).toBe(`breakerHalfOpen ${endpoints[0]}`)
  })
})

describe('one ejection state with a cap and panic', () => {
  it('ejects at most one of ten failing endpoints (10%, at least one) and keeps calls flowing to the others', async () => {
    const { balancer, endpoints } = make(10)
    let ejectedNow = 0
    let maxEjected = 0
    balancer.on('ejected', () => {
      ejectedNow++
      maxEjected = Math.max(maxEjected, ejectedNow)
    })
    balancer.on('restored', () => ejectedNow--)
    const reached = new Map<string, number>()
    for (let i = 0; i < 600; i++) {
      await balancer
        .call(async (endpoint) => {
          reached.set(endpoint.id, (reached.get(endpoint.id) ?? 0) + 1)
          return fail()
        })
        .catch(() => {})
    }
    const snapshot = balancer.snapshot()
    expect(maxEjected).toBe(1)
    expect(snapshot.endpoints.filter((e) => e.state === 'ejected')).toHaveLength(1)
    expect(snapshot.endpoints.filter((e) => e.states.includes('open'))).toHaveLength(10)
    // Every endpoint but the ejected one kept receiving calls after the breakers opened.
    const ejected = snapshot.endpoints.find((e) => e.state === 'ejected')!.id
    for (const id of endpoints) if (id !== ejected) expect(reached.get(id)).toBeGreaterThan(55)
  })

  it('panics below 50% eligible, emits panic, and balances over every member', async () => {
    const { balancer, endpoints } = make(4, { maxEjectionPercent: 100 })
    const panics: unknown[] = []
    balancer.on('panic', (event) => panics.push(event))
    const failing = new Set(endpoints.slice(0, 3))
    for (let i = 0; i < 80; i++) {
      await balancer.call(async (endpoint) => (failing.has(endpoint.id) ? fail() : 'ok')).catch(() => {})
    }
    await flush()
    expect(panics).toEqual([{ active: true, eligible: 1, total: 4, priority: 0 }])
    expect(balancer.snapshot().panic).toEqual([0])
    const reached = new Set<string>()
    for (let i = 0; i < 8; i++) await balancer.call(async (endpoint) => reached.add(endpoint.id))
    expect(reached.size).toBe(4)
  })

  it('skips an overloaded endpoint for its Retry-After and counts nothing against it', async () => {
    const { balancer, clock, endpoints } = make(2)
    const core = coreOf(balancer)
    const ejections: string[] = []
    balancer.on('ejected', ({ endpoint, detector, until }) =>
      ejections.push(`${detector} ${endpoint.id} until ${until}`),
    )
    const start = clock.now()
    let a = ''
    const first = await balancer.call(async (endpoint) => {
      a = endpoint.id
      return new Response('busy', { status: 429, headers: { 'retry-after': '2' } })
    })
    const b = endpoints.find((id) => id !== a)!
    expect(first.status).toBe(429)
    expect(ejections).toEqual([`overload ${a} until ${start + 2_000}`])
    const reached: string[] = []
    for (let i = 0; i < 4; i++) await balancer.call(async (endpoint) => reached.push(endpoint.id))
    expect(reached).toEqual([b, b, b, b])
    await clock.advance(2_000)
    for (let i = 0; i < 4; i++) await balancer.call(async (endpoint) => reached.push(endpoint.id))
    expect(reached.slice(4).sort()).toEqual([a, a, b, b].sort())
    const window = (
      core.set.members.get(a)!.breaker as { breaker: { status: { window: { fires: number; failures: number }[] } } }
    ).breaker.status.window
    const counted = window.reduce((sum, bucket) => sum + bucket.failures, 0)
    expect(counted).toBe(0)
    expect(stateOf(balancer, a).failures).toBe(0)
  })
})
