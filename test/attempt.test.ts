import { describe, expect, it } from 'vitest'
import type { AttemptImpl } from '../src/core/attempt.ts'
import { AttemptTimeoutError, Balancer, BalancerClosedError } from '../src/index.ts'
import { flush, ManualClock } from './helpers/clock.ts'

/** The internal hook adapters use: `attempt.canceller`. */
type Hooked = { canceller: AttemptImpl['canceller'] }

/** A canceller that records keel's reasons. */
const recording = (reasons: unknown[]) => ({ attemptCancelled: (reason: unknown) => reasons.push(reason) })

describe('attempt.canceller (the adapters’ cancellation hook)', () => {
  it("is called once, with keel's reason, when keel cancels the attempt", async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock, retry: false })
    const reasons: unknown[] = []
    let settle: (() => void) | undefined
    const call = balancer.call(
      (_endpoint, attempt) =>
        new Promise<void>((resolve) => {
          ;(attempt as unknown as Hooked).canceller = recording(reasons)
          settle = resolve
        }),
      { attemptTimeout: 50 },
    )
    const rejected = expect(call).rejects.toBeInstanceOf(AttemptTimeoutError)
    await clock.advance(50)
    await rejected
    settle?.()
    await flush()
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toBeInstanceOf(AttemptTimeoutError)
    await balancer.close()
  })

  it('is not called for an attempt that ends by itself, nor by close() afterwards', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock })
    const reasons: unknown[] = []
    await balancer.call(async (_endpoint, attempt) => {
      ;(attempt as unknown as Hooked).canceller = recording(reasons)
      return 1
    })
    await balancer.close()
    expect(reasons).toEqual([])
  })

  it('carries BalancerClosedError when close() cancels an attempt still running', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock, drainTimeout: 10 })
    const reasons: unknown[] = []
    const call = balancer.call(
      (_endpoint, attempt) =>
        new Promise<void>(() => {
          ;(attempt as unknown as Hooked).canceller = recording(reasons)
        }),
      { timeout: 1_000 },
    )
    const rejected = expect(call).rejects.toBeInstanceOf(BalancerClosedError)
    const closed = balancer.close()
    await clock.advance(10)
    await closed
    await rejected
    expect(reasons.map((r) => (r as Error).constructor.name)).toEqual(['BalancerClosedError'])
  })
})
