// Regressions from the failure drills (docs/reliability.md), on the injected clock: shedding
// answers pause and charge their endpoint, a Retry-After longer than keel waits returns at once,
// and cancelled attempts charge their elapsed time as a lower bound.
import { afterEach, describe, expect, it } from 'vitest'
import { OVERLOAD_PAUSE_FLOOR_MS, overloadPauseMs } from '../../src/ejection/overload.ts'
import {
  Balancer,
  type BalancerOptions,
  type EjectedEvent,
  RetriesExhaustedError,
  seededRandom,
} from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

const endpoints = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']

function make(options: BalancerOptions = {}, list: readonly string[] = endpoints) {
  const clock = new ManualClock()
  const balancer = new Balancer({ endpoints: list, clock, random: seededRandom(11), ...options })
  balancers.push(balancer)
  const ejected: { id: string; detector: string; ms: number | undefined }[] = []
  balancer.on('ejected', (e: EjectedEvent) =>
    ejected.push({
      id: e.endpoint.id,
      detector: e.detector,
      ms: e.until === undefined ? undefined : e.until - clock.now(),
    }),
  )
  return { balancer, clock, ejected }
}

/** Resolves after `ms` on the manual clock. */
const sleep = (clock: ManualClock, ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms))

/** A fetch `Response` with `status` and headers. */
const response = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers })

describe('overloaded answers', () => {
  it('pause for at least 1 s and at most maxRetryAfter, whatever the header says', () => {
    expect(OVERLOAD_PAUSE_FLOOR_MS).toBe(1_000)
    expect(overloadPauseMs(0, 30_000)).toBe(1_000)
    expect(overloadPauseMs(2_500, 30_000)).toBe(2_500)
    expect(overloadPauseMs(120_000, 30_000)).toBe(30_000)
    expect(overloadPauseMs(Number.POSITIVE_INFINITY, 30_000)).toBe(30_000)
    expect(overloadPauseMs(0, 500)).toBe(500) // a cap below the floor wins
    // Each shedding answer since the last success doubles the floor: 1, 2, 4, 8 s … up to the cap.
    expect([1, 2, 3, 4, 6].map((streak) => overloadPauseMs(0, 30_000, streak))).toEqual([
      1_000, 2_000, 4_000, 8_000, 30_000,
    ])
    expect(overloadPauseMs(3_000, 30_000, 2)).toBe(3_000)
  })

  for (const [what, headers, status] of [
    ['503 Retry-After: 0', { 'retry-after': '0' }, 503],
    ['429 without Retry-After', {}, 429],
    ['429 with a malformed Retry-After', { 'retry-after': '1.5' }, 429],
  ] as const) {
    it(`${what}: the endpoint is paused 1 s and charged like a failure, so it stops winning picks`, async () => {
      const { balancer, clock, ejected } = make({ retry: false })
      const shedding = endpoints[0]!
      // Everyone answers in 10 ms; the shedding endpoint answers at once.
      const served: string[] = []
      const call = () =>
        balancer.call(
          async (endpoint) => {
            served.push(endpoint.id)
            if (endpoint.id === shedding) return response(status, headers)
            await sleep(clock, 10)
            return response(200)
          },
          { idempotent: true },
        )
      for (let i = 0; i < 200; i++) {
        const pending = call()
        await clock.advance(10)
        await pending
        // 5 calls per 100 ms of clock: 200 calls over 4 s.
        await clock.advance(10)
      }
      const toShedding = served.filter((id) => id === shedding).length
      // Paused 1 s by its first shedding answer (then 2 s, 4 s … if it kept winning picks).
      expect(ejected.filter((e) => e.detector === 'overload').map((e) => e.ms)[0]).toBe(1_000)
      // Under 2% of attempts (the drill's bar): it sheds, is paused 1 s, and is then charged.
      expect(toShedding).toBeGreaterThan(0)
      expect(toShedding / served.length).toBeLessThan(0.02)
      const snapshot = balancer.snapshot().endpoints.find((e) => e.id === shedding)!
      expect(snapshot.failures).toBe(0) // shedding is not a failure
      expect(snapshot.ewmaMs).toBeGreaterThan(10) // but it never looks faster than a real answer
    })
  }
})

describe('a Retry-After longer than keel waits', () => {
  it('returns the answer at once when it exceeds maxRetryAfter and nothing else can take the retry', async () => {
    const { balancer, clock } = make({}, [endpoints[0]!])
    let attempts = 0
    const call = balancer.call(
      async () => {
        attempts++
        return response(503, { 'retry-after': '120' })
      },
      { idempotent: true },
    )
    await flush()
    const res = (await call) as Response
    expect(res.status).toBe(503)
    expect(attempts).toBe(1)
    expect(clock.now()).toBe(1_000) // no time passed: it did not wait for the 30 s cap
  })

  it('rejects at once with reason retry-after for a thrown 429 asking for more than maxRetryAfter', async () => {
    const { balancer, clock } = make({ retry: { maxRetryAfter: 5_000 } }, [endpoints[0]!])
    let attempts = 0
    const call = balancer.call(
      async () => {
        attempts++
        if (attempts === 1) throw Object.assign(new Error('HTTP 503'), { status: 503, headers: {} })
        throw Object.assign(new Error('HTTP 429'), { status: 429, headers: { 'retry-after': '6' } })
      },
      { idempotent: true },
    )
    const outcome = call.then(
      () => undefined,
      (error: unknown) => error,
    )
    await clock.advance(100)
    const error = (await outcome) as RetriesExhaustedError
    expect(error).toBeInstanceOf(RetriesExhaustedError)
    expect(error.reason).toBe('retry-after')
    // Settled within the 100 ms advanced: the first retry's backoff (< 25 ms), no 5 s wait.
    expect(attempts).toBe(2)
  })

  it('returns at once when the pause would end after the call deadline', async () => {
    const { balancer, clock } = make({}, [endpoints[0]!])
    let attempts = 0
    const call = balancer.call(
      async () => {
        attempts++
        return response(503, { 'retry-after': '10' })
      },
      { idempotent: true, timeout: 5_000 },
    )
    await flush()
    expect(((await call) as Response).status).toBe(503)
    expect(attempts).toBe(1)
    expect(clock.now()).toBe(1_000)
  })

  it('still waits for a pause within maxRetryAfter and the deadline', async () => {
    const { balancer, clock } = make({}, [endpoints[0]!])
    let attempts = 0
    const call = balancer.call(async () => (++attempts === 1 ? response(503, { 'retry-after': '2' }) : response(200)), {
      idempotent: true,
    })
    await clock.advance(1_999)
    expect(attempts).toBe(1)
    await clock.advance(300)
    expect(((await call) as Response).status).toBe(200)
    expect(attempts).toBe(2)
  })
})

describe('cancelled attempts', () => {
  it('charge their elapsed time as a lower bound: a replica whose hedges always lose is charged', async () => {
    const { balancer, clock } = make({ picker: 'round-robin', hedge: { delay: 50 } }, endpoints.slice(0, 2))
    const slow = endpoints[0]!
    // Round-robin alternates the first attempt; on the slow endpoint it loses to a 5 ms hedge.
    for (let i = 0; i < 6; i++) {
      const call = balancer.call(
        async (endpoint) => {
          await sleep(clock, endpoint.id === slow ? 1_000 : 5)
          return 'ok'
        },
        { idempotent: true },
      )
      await clock.advance(60)
      expect(await call).toBe('ok')
    }
    const loser = balancer.snapshot().endpoints.find((e) => e.id === slow)!
    // Three losers of 55 ms (50 ms delay + the hedge's 5 ms), none overlapping: a confirmed level.
    expect(loser.ewmaMs).toBeGreaterThan(50)
    expect(loser.failures).toBe(0)
    expect(loser.requests).toBe(0)
  })

  it('never lower an estimate above their elapsed time', async () => {
    const { balancer, clock } = make({ picker: 'round-robin' }, [endpoints[0]!])
    const first = balancer.call(async () => {
      await sleep(clock, 20)
      return 'ok'
    })
    await clock.advance(20)
    await first
    const before = balancer.snapshot().endpoints[0]!.ewmaMs
    const controller = new AbortController()
    const aborted = balancer.call(() => sleep(clock, 10_000).then(() => 'late'), { signal: controller.signal })
    await clock.advance(5)
    controller.abort()
    await expect(aborted).rejects.toBeDefined()
    // 5 ms elapsed says nothing new: the estimate is where the answer left it (decay aside).
    expect(balancer.snapshot().endpoints[0]!.ewmaMs).toBeCloseTo(before, 0)
  })

  it('do not feed the p95 hedge delay: it counts answers only', async () => {
    const { balancer, clock } = make({ picker: 'round-robin', hedge: { delay: 'p95' } }, endpoints.slice(0, 2))
    // 40 answers of 10 ms build the window; then a hedged call whose loser is cancelled late.
    for (let i = 0; i < 40; i++) {
      const c = balancer.call(
        async () => {
          await sleep(clock, 10)
          return 'ok'
        },
        { idempotent: true },
      )
      await clock.advance(10)
      await c
    }
    const delays: number[] = []
    balancer.on('hedge', ({ delay }) => delays.push(delay))
    for (let i = 0; i < 20; i++) {
      const c = balancer.call(
        async (endpoint) => {
          await sleep(clock, endpoint.id === endpoints[0] ? 5_000 : 1)
          return 'ok'
        },
        { idempotent: true },
      )
      await clock.advance(40)
      await c
    }
    // Every round that started on the slow endpoint hedged at the p95 of the answers (~10 ms);
    // its losers (cancelled after p95 + 1 ms) are not samples, so the delay never crept up.
    expect(delays.length).toBeGreaterThan(0)
    expect(Math.max(...delays)).toBe(delays[0])
    expect(delays[0]!).toBeLessThan(12)
  })
})
