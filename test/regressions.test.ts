// Behaviours an independent review found wrong, each pinned where it was broken.
import { afterEach, describe, expect, it } from 'vitest'
import { coreOf } from '../src/core/port-access.ts'
import { Balancer, type DiscoveryUpdate, seededRandom, staticDiscovery } from '../src/index.ts'
import { flush, ManualClock } from './helpers/clock.ts'
import { trackTimers } from './helpers/live-timers.ts'
import { capturingMicrotasks } from './helpers/microtasks.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

function keep<B extends Balancer<unknown>>(b: B): B {
  balancers.push(b)
  return b
}

describe('regressions', () => {
  it('gives back the budget of a hedge that found no other endpoint', async () => {
    const clock = new ManualClock()
    const b = keep(
      new Balancer({ endpoints: ['http://10.0.0.1:80'], clock, random: seededRandom(1), hedge: { delay: 10 } }),
    )
    let hedges = 0
    b.on('hedge', () => hedges++)
    for (let i = 0; i < 20; i++) {
      const call = b.call(() => clock.advance(30).then(() => 'slow'), { idempotent: true })
      await call
    }
    expect(hedges).toBe(0)
    expect(b.snapshot().retryBudget).toMatchObject({ retries: 0, calls: 20 })
  })

  it('gives back the budget of a retry that found no endpoint', async () => {
    const clock = new ManualClock()
    const b = keep(new Balancer({ endpoints: ['http://10.0.0.1:80'], clock, random: seededRandom(1) }))
    b.on('retry', () => b.update([]))
    const call = b.call(async () => new Response('x', { status: 503 }), { idempotent: true })
    await clock.advance(1_000)
    expect((await call).status).toBe(503)
    expect(b.snapshot().retryBudget).toMatchObject({ retries: 0 })
  })

  it("starts a call's first attempt when discovery answered, not when the call began", async () => {
    const clock = new ManualClock()
    const source = staticDiscovery()
    const b = keep(new Balancer({ discovery: source, clock, random: seededRandom(1) }))
    const durations: number[] = []
    b.on('attempt', ({ durationMs, verdict }) => durations.push(verdict === 'success' ? durationMs : -1))
    const call = b.call(() => clock.advance(20).then(() => 'ok'), { attemptTimeout: 500, timeout: 5_000 })
    await clock.advance(1_000)
    source.update(['http://10.0.0.1:80'])
    expect(await call).toBe('ok')
    expect(durations).toEqual([20])
  })

  it('falls back to keel rules when classify returns null or a word that is no verdict', async () => {
    const clock = new ManualClock()
    const warnings: string[] = []
    const b = keep(
      new Balancer({
        endpoints: ['http://10.0.0.1:80'],
        clock,
        classify: (outcome) => (outcome.ok ? (null as never) : ('fail' as never)),
      }),
    )
    b.on('warning', ({ code }) => warnings.push(code))
    await expect(b.call(async () => 'fine')).resolves.toBe('fine')
    await expect(b.call(async () => 'fine', { timeout: 1_000 })).resolves.toBe('fine')
    await expect(b.call(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(warnings).toEqual(['KEEL_INVALID_VERDICT'])
    expect(coreOf(b).pending).toBe(0)
    expect(b.snapshot().endpoints[0]).toMatchObject({ inFlight: 0, requests: 3 })
  })

  it('treats a throwing shouldRetry as no opinion: a non-idempotent endpoint failure is not replayed', async () => {
    const clock = new ManualClock()
    let asked = 0
    const b = keep(
      new Balancer({
        endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80'],
        clock,
        random: seededRandom(1),
        retry: {
          shouldRetry: () => {
            if (++asked === 2) throw new Error('bug in shouldRetry')
            return undefined
          },
        },
      }),
    )
    const { thrown, restore } = capturingMicrotasks()
    let n = 0
    try {
      const call = b
        .call(async () => {
          n++
          throw Object.assign(new Error(n === 1 ? 'refused' : 'reset'), {
            code: n === 1 ? 'ECONNREFUSED' : 'ECONNRESET',
          })
        })
        .catch((e: unknown) => e)
      await clock.advance(5_000)
      expect(await call).toMatchObject({ name: 'RetriesExhaustedError', reason: 'not-retryable' })
    } finally {
      restore()
    }
    expect(n).toBe(2)
    expect(thrown).toEqual([new Error('bug in shouldRetry')])
  })

  it('releases the value a retry would have replaced when the caller aborts during the backoff', async () => {
    const clock = new ManualClock()
    const b = keep(
      new Balancer({ endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80'], clock, random: seededRandom(1) }),
    )
    const response = new Response('unavailable', { status: 503 })
    const controller = new AbortController()
    let retried = false
    b.on('retry', () => (retried = true))
    const call = b.call(async () => response, { idempotent: true, signal: controller.signal }).catch((e: unknown) => e)
    await flush()
    expect(retried).toBe(true)
    controller.abort(new Error('gone'))
    expect(await call).toEqual(new Error('gone'))
    await flush()
    expect(response.bodyUsed).toBe(true)
  })

  it('rejects a signal-like object without listener methods, and leaves nothing pending', async () => {
    const b = keep(new Balancer({ endpoints: ['http://10.0.0.1:80'] }))
    await expect(b.call(async () => 1, { signal: { aborted: false } as never })).rejects.toThrow(
      'Expected `signal` to be an AbortSignal',
    )
    expect(coreOf(b).pending).toBe(0)
  })

  it('leaves no timer running when the constructor throws', async () => {
    const timers = trackTimers()
    timers.start()
    try {
      for (let i = 0; i < 3; i++) {
        expect(() => new Balancer({ endpoints: ['http://ok:1', 'http://ok:1'] })).toThrow(/already listed/)
      }
      const failing = {
        watch: (_l: (u: DiscoveryUpdate) => void): (() => void) => {
          throw new Error('no registry')
        },
      }
      expect(() => new Balancer({ discovery: failing })).toThrow()
      await new Promise((resolve) => setImmediate(resolve))
      expect(timers.live(), timers.where()).toBe(0)
    } finally {
      timers.stop()
    }
  })

  it('keeps the budget when the balancer turns retries off and a call turns them on', () => {
    const b = keep(new Balancer({ endpoints: ['http://10.0.0.1:80'], retry: false }))
    expect(b.snapshot().retryBudget).not.toBeNull()
  })
})
