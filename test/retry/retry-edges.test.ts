import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions, RetriesExhaustedError, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'
import { capturingMicrotasks } from '../helpers/microtasks.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

function make(options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock, random: seededRandom(2), ...options })
  balancers.push(balancer)
  return { balancer, clock }
}

describe('retry edge cases', () => {
  it('settles like the last attempt, its value intact, when no endpoint can take a decided retry', async () => {
    const { balancer, clock } = make()
    const retried: number[] = []
    balancer.on('retry', ({ attempt }) => retried.push(attempt))
    const call = balancer.call(async () => new Response('busy', { status: 503 }), { idempotent: true })
    await flush()
    expect(retried).toEqual([2])
    // The only endpoint goes away during the backoff.
    balancer.update([])
    await clock.advance(250)
    const response = await call
    expect(response.status).toBe(503)
    expect(response.bodyUsed).toBe(false)
    expect(await response.text()).toBe('busy')
  })

  it('reports each attempt once when a decided retry finds no endpoint after several attempts', async () => {
    const { balancer, clock } = make({ endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80'] })
    const fail = () => Promise.reject(Object.assign(new Error('503'), { status: 503 }))
    let retries = 0
    balancer.on('retry', () => {
      retries++
      if (retries === 2) balancer.update([])
    })
    const call = balancer.call(fail, { idempotent: true }).catch((e: unknown) => e)
    await clock.advance(1_000)
    const error = (await call) as RetriesExhaustedError
    expect(error).toBeInstanceOf(RetriesExhaustedError)
    expect(error.reason).toBe('no-endpoint')
    expect(error.attempts).toHaveLength(2)
  })

  it('stops with reason not-retryable when fn throws an AbortError of its own', async () => {
    const { balancer, clock } = make({ endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80'] })
    let n = 0
    const call = balancer
      .call(
        async () => {
          n++
          if (n === 1) throw Object.assign(new Error('503'), { status: 503 })
          throw new DOMException('gave up', 'AbortError')
        },
        { idempotent: true },
      )
      .catch((e: unknown) => e)
    await clock.advance(1_000)
    expect(await call).toMatchObject({ name: 'RetriesExhaustedError', reason: 'not-retryable' })
    expect(n).toBe(2)
  })

  it('ends the attempt by keel rules when a user classifier throws, and rethrows its error', async () => {
    const { thrown, restore } = capturingMicrotasks()
    try {
      const { balancer } = make({
        classify: () => {
          throw new Error('classifier bug')
        },
        attemptTimeout: 1_000,
      })
      await expect(balancer.call(async () => 'fine')).resolves.toBe('fine')
      expect(balancer.snapshot().endpoints[0]).toMatchObject({ inFlight: 0, requests: 1 })
    } finally {
      restore()
    }
    expect(thrown).toEqual([new Error('classifier bug')])
  })
})
