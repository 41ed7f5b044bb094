import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions, HedgeLostError, seededRandom } from '../../src/index.ts'
import { LatencyWindow } from '../../src/load/latency-window.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

const endpoints = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']

/** A fake backend per endpoint: each attempt resolves when the test says, or never. */
function make(options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints,
    clock,
    random: seededRandom(3),
    picker: 'round-robin',
    hedge: { delay: 50 },
    ...options,
  })
  balancers.push(balancer)
  const hedges: number[] = []
  balancer.on('hedge', ({ attempt }) => hedges.push(attempt))
  return { balancer, clock, hedges }
}

describe('hedged requests', () => {
  it('sends a hedge after the delay to another endpoint; the first answer wins and the loser is cancelled', async () => {
    const { balancer, clock, hedges } = make()
    const started: { id: string; signal: AbortSignal; resolve: (v: string) => void }[] = []
    const call = balancer.call(
      (endpoint, attempt) =>
        new Promise<string>((resolve) => {
          started.push({ id: endpoint.id, signal: attempt.signal, resolve })
        }),
      { idempotent: true },
    )
    await flush()
    expect(started).toHaveLength(1)
    await clock.advance(49)
    expect(started).toHaveLength(1)
    await clock.advance(1)
    expect(hedges).toEqual([2])
    expect(started).toHaveLength(2)
    expect(started[1]!.id).not.toBe(started[0]!.id)
    started[1]!.resolve('from the hedge')
    expect(await call).toBe('from the hedge')
    expect(started[0]!.signal.aborted).toBe(true)
    expect(started[0]!.signal.reason).toBeInstanceOf(HedgeLostError)
    const snapshot = balancer.snapshot()
    expect(snapshot.endpoints.every((e) => e.inFlight === 0 && e.failures === 0)).toBe(true)
    // The loser counts nothing against its endpoint: its request is not even counted as ended.
    expect(snapshot.endpoints.find((e) => e.id === started[0]!.id)!.requests).toBe(0)
  })

  it('does not hedge an answer that comes before the delay, nor a non-idempotent call', async () => {
    const { balancer, clock, hedges } = make()
    expect(await balancer.call(async () => 'fast', { idempotent: true })).toBe('fast')
    let release!: () => void
    const slow = balancer.call(() => new Promise<string>((resolve) => (release = () => resolve('slow'))))
    await clock.advance(5_000)
    release()
    expect(await slow).toBe('slow')
    expect(hedges).toEqual([])
  })

  it('hedges up to maxAttempts in flight, one delay apart', async () => {
    const { balancer, clock, hedges } = make({ hedge: { delay: 20, maxAttempts: 3 } })
    const pending: ((v: string) => void)[] = []
    const call = balancer.call(() => new Promise<string>((resolve) => pending.push(resolve)), { idempotent: true })
    await clock.advance(100)
    expect(hedges).toEqual([2, 3])
    expect(pending).toHaveLength(3)
    pending[0]!('first')
    expect(await call).toBe('first')
  })

  it('starts no hedge when the retry budget is empty', async () => {
    const { balancer, clock, hedges } = make({ retry: { budget: { percent: 0, minPerSecond: 0 } } })
    let exhausted = 0
    balancer.on('budgetExhausted', () => exhausted++)
    let release!: () => void
    const call = balancer.call(() => new Promise<string>((resolve) => (release = () => resolve('alone'))), {
      idempotent: true,
    })
    await clock.advance(200)
    expect(hedges).toEqual([])
    expect(exhausted).toBe(1)
    release()
    expect(await call).toBe('alone')
  })

  it('lets a failed hedge be retried within retries, and settles like the last attempt', async () => {
    const { balancer, clock } = make({ retry: { retries: 1, minTimeout: 0 } })
    const attempts: { id: string; reject: (e: Error) => void; resolve: (v: string) => void }[] = []
    const call = balancer.call(
      (endpoint) => new Promise<string>((resolve, reject) => attempts.push({ id: endpoint.id, resolve, reject })),
      { idempotent: true },
    )
    await clock.advance(50)
    expect(attempts).toHaveLength(2)
    attempts[1]!.reject(Object.assign(new Error('503'), { status: 503 }))
    await flush()
    // The original still runs: no retry yet.
    expect(attempts).toHaveLength(2)
    attempts[0]!.reject(Object.assign(new Error('503'), { status: 503 }))
    await flush()
    // Both failed: the round failed and one retry follows, on the endpoint not tried yet.
    expect(attempts).toHaveLength(3)
    expect(new Set(attempts.map((a) => a.id)).size).toBe(3)
    attempts[2]!.resolve('third time')
    expect(await call).toBe('third time')
  })

  it("hedges at the balancer's recent p95 once it has enough samples", async () => {
    const { balancer, clock, hedges } = make({ hedge: { delay: 'p95' } })
    // 19 samples: not enough for a p95, so no hedge.
    const timed = async (ms: number) => {
      const call = balancer.call(
        () => new Promise<number>((resolve) => void clock.advance(ms).then(() => resolve(ms))),
        {
          idempotent: true,
        },
      )
      await flush()
      return call
    }
    for (let i = 0; i < 19; i++) await timed(10)
    expect(hedges).toEqual([])
    for (let i = 0; i < 20; i++) await timed(10)
    const pending: ((v: string) => void)[] = []
    const call = balancer.call(() => new Promise<string>((resolve) => pending.push(resolve)), { idempotent: true })
    await clock.advance(9)
    expect(hedges).toEqual([])
    await clock.advance(3)
    expect(hedges).toEqual([2])
    pending[1]!('hedged at p95')
    expect(await call).toBe('hedged at p95')
  })
})

describe('hedges and their values', () => {
  it('releases the body of a hedge that failed with a returned response', async () => {
    const { balancer, clock } = make()
    let first!: (v: Response) => void
    const failed = new Response('unavailable', { status: 503 })
    let n = 0
    const call = balancer.call(
      () => {
        n++
        return n === 1 ? new Promise<Response>((resolve) => (first = resolve)) : Promise.resolve(failed)
      },
      { idempotent: true },
    )
    await clock.advance(50)
    expect(n).toBe(2)
    first(new Response('ok'))
    expect((await call).status).toBe(200)
    await flush()
    expect(failed.bodyUsed).toBe(true)
  })

  it('never hedges to an endpoint the call already uses', async () => {
    const { balancer, clock, hedges } = make({ endpoints: ['http://10.0.0.1:80'] })
    let release!: () => void
    const call = balancer.call(() => new Promise<string>((resolve) => (release = () => resolve('one'))), {
      idempotent: true,
    })
    await clock.advance(500)
    expect(hedges).toEqual([])
    release()
    expect(await call).toBe('one')
  })
})

describe('LatencyWindow', () => {
  it('reports quantiles that round up to the bucket bound, over a sliding window', () => {
    const w = new LatencyWindow(10_000, 10)
    for (let i = 1; i <= 100; i++) w.record(0, i)
    const p95 = w.quantile(0, 0.95)!
    expect(p95).toBeGreaterThanOrEqual(95)
    expect(p95).toBeLessThan(95 * 1.1)
    expect(w.quantile(0, 0.5)).toBeGreaterThanOrEqual(50)
    // 10 s later the old samples are gone.
    for (let i = 0; i < 10; i++) w.record(10_000, 1_000)
    expect(w.size).toBe(10)
    expect(w.quantile(10_000, 0.95)).toBeGreaterThanOrEqual(1_000)
    expect(new LatencyWindow(10_000, 10).quantile(0, 0.95)).toBeUndefined()
  })
})
