import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  Balancer,
  BalancerClosedError,
  type BalancerOptions,
  DeadlineExceededError,
  EndpointRemovedError,
  isKeelError,
  NoEndpointAvailableError,
  seededRandom,
} from '../src/index.ts'
import { flush, ManualClock } from './helpers/clock.ts'
import { capturingMicrotasks } from './helpers/microtasks.ts'

const three = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']
const balancers: Balancer<unknown>[] = []

function make<C = never>(options: BalancerOptions<C> = {}): { balancer: Balancer<C>; clock: ManualClock } {
  const clock = new ManualClock()
  const balancer = new Balancer<C>({
    endpoints: three,
    picker: 'round-robin',
    random: seededRandom(7),
    clock,
    ...options,
  })
  balancers.push(balancer as Balancer<unknown>)
  return { balancer, clock }
}

function totalInFlight(balancer: Balancer<unknown>): number {
  return balancer.snapshot().endpoints.reduce((sum, e) => sum + e.inFlight, 0)
}

afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

describe('Balancer.call', () => {
  it('spreads round-robin calls exactly evenly over every whole number of cycles', async () => {
    const { balancer } = make()
    const counts = new Map<string, number>()
    for (let cycle = 1; cycle <= 20; cycle++) {
      for (let i = 0; i < 3; i++) {
        const id = await balancer.call(async (endpoint) => endpoint.id)
        counts.set(id, (counts.get(id) ?? 0) + 1)
      }
      expect([...counts.values()]).toEqual([cycle, cycle, cycle])
    }
  })

  it('returns in-flight to 0 after success, failure, timeout and abort (checked after every call)', async () => {
    const { balancer, clock } = make({ retry: false })
    const outcomes: Promise<unknown>[] = []
    const check = async (p: Promise<unknown>) => {
      await p.catch(() => {})
      expect(totalInFlight(balancer)).toBe(0)
    }
    await check(balancer.call(async () => 'ok'))
    await check(balancer.call(async () => Promise.reject(new Error('boom'))))
    await check(
      balancer.call(() => {
        throw new Error('sync throw')
      }),
    )
    const timedOut = balancer.call(
      (_e, attempt) =>
        new Promise((_r, reject) => attempt.signal.addEventListener('abort', () => reject(attempt.signal.reason))),
      { timeout: 50 },
    )
    const timeoutError = timedOut.catch((error: unknown) => error)
    await clock.advance(50)
    expect(await timeoutError).toBeInstanceOf(DeadlineExceededError)
    await check(timedOut)
    const controller = new AbortController()
    const aborted = balancer.call(() => new Promise(() => {}), { signal: controller.signal })
    expect(totalInFlight(balancer)).toBe(1)
    controller.abort(new Error('caller gave up'))
    await expect(aborted).rejects.toThrow('caller gave up')
    await check(aborted)
    outcomes.push(aborted)
  })

  it('resolves with a returned 503 Response (the result rule) and passes one thrown error through unchanged', async () => {
    const { balancer } = make()
    const response = new Response('unavailable', { status: 503 })
    await expect(balancer.call(async () => response)).resolves.toBe(response)
    const error = new Error('exactly this one')
    await expect(balancer.call(async () => Promise.reject(error))).rejects.toBe(error)
  })

  it('rejects with the signal reason when the caller aborts, even if fn ignores the signal', async () => {
    const { balancer } = make()
    const controller = new AbortController()
    const reason = new Error('stop')
    const call = balancer.call(() => new Promise(() => {}), { signal: controller.signal })
    controller.abort(reason)
    await expect(call).rejects.toBe(reason)
    const early = balancer.call(async () => 'never', { signal: AbortSignal.abort(reason) })
    await expect(early).rejects.toBe(reason)
  })

  it('aborts attempt.signal with keel reason and classifies by it', async () => {
    const { balancer, clock } = make({ retry: false })
    const seen: unknown[] = []
    balancer.on('attempt', (event) => seen.push(event.verdict))
    const call = balancer.call(
      (_endpoint, attempt) =>
        new Promise((_resolve, reject) => {
          attempt.signal.addEventListener('abort', () => reject(new Error('fn says: aborted')))
        }),
      { timeout: 10 },
    )
    const error = call.catch((e: unknown) => e)
    await clock.advance(10)
    expect(await error).toBeInstanceOf(DeadlineExceededError)
    await flush()
    expect(seen).toEqual(['cancelled'])
  })

  it('fails with NoEndpointAvailableError when every endpoint is at maxInFlightPerEndpoint', async () => {
    const { balancer } = make({ maxInFlightPerEndpoint: 1 })
    const hold: (() => void)[] = []
    const calls = [0, 1, 2].map(() => balancer.call(() => new Promise<void>((resolve) => hold.push(resolve))))
    const refused = balancer.call(async () => 'no room')
    await expect(refused).rejects.toMatchObject({ code: 'KEEL_NO_ENDPOINT', reason: 'saturated' })
    for (const release of hold) release()
    await Promise.all(calls)
    await expect(balancer.call(async () => 'room again')).resolves.toBe('room again')
  })

  it('fails with reason empty when there are no endpoints', async () => {
    const balancer = new Balancer({ endpoints: [] })
    balancers.push(balancer)
    const error = await balancer.call(async () => 1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NoEndpointAvailableError)
    expect(isKeelError(error)).toBe(true)
    expect(error).toMatchObject({ reason: 'empty' })
  })

  it('keeps calls flowing when an event listener throws', async () => {
    const { balancer } = make()
    const { thrown, restore } = capturingMicrotasks()
    try {
      balancer.on('attempt', () => {
        throw new Error('listener bug')
      })
      await expect(balancer.call(async () => 'still works')).resolves.toBe('still works')
    } finally {
      restore()
    }
    expect(thrown).toEqual([new Error('listener bug')])
  })

  it('emits nothing and allocates no event on the success path when nobody listens', async () => {
    const { balancer } = make()
    const emit = vi.spyOn(balancer, 'emit')
    await balancer.call(async () => 1)
    expect(emit).not.toHaveBeenCalled()
    balancer.on('attempt', () => {})
    await balancer.call(async () => 1)
    expect(emit).toHaveBeenCalledTimes(1)
  })

  it('rejects calls after close() with BalancerClosedError', async () => {
    const { balancer } = make()
    await balancer.close()
    await expect(balancer.call(async () => 1)).rejects.toBeInstanceOf(BalancerClosedError)
    await expect(balancer.close()).resolves.toBeUndefined()
  })

  it('rejects invalid call options with the option named', async () => {
    const { balancer } = make()
    await expect(balancer.call(async () => 1, { timeout: -1 })).rejects.toThrow(
      'Expected `timeout` to be a positive number ≤ 2147483647, got -1',
    )
    await expect(balancer.call(async () => 1, { retry: { retries: 1.5 } })).rejects.toThrow(
      'Expected `retry.retries` to be a non-negative integer ≤ 100, got 1.5',
    )
    await expect(balancer.call(async () => 1, { idempotnet: true } as never)).rejects.toThrow(
      'Unknown option `idempotnet` (did you mean `idempotent`?)',
    )
  })
})

describe('membership and draining', () => {
  it('keeps state for an id across update() and drains a removed endpoint', async () => {
    const closed: string[] = []
    const { balancer, clock } = make({
      createClient: (info) => ({ id: info.id }),
      closeClient: (client) => {
        closed.push(client.id)
      },
    })
    const removedEvents: string[] = []
    balancer.on('endpointRemoved', ({ endpoint }) => removedEvents.push(endpoint.id))
    // Make an in-flight attempt on every endpoint and create each client.
    const release: (() => void)[] = []
    const picked: string[] = []
    const running = [0, 1, 2].map(() =>
      balancer.call(async (endpoint) => {
        picked.push(endpoint.client.id)
        await new Promise<void>((resolve) => release.push(resolve))
        return endpoint.id
      }),
    )
    await flush()
    const before = balancer.endpoints.find((e) => e.id === 'http://10.0.0.2:80')
    balancer.update(['http://10.0.0.1:80', 'http://10.0.0.3:80', 'http://10.0.0.4:80'])
    expect(removedEvents).toEqual(['http://10.0.0.2:80'])
    expect(balancer.snapshot().endpoints.find((e) => e.id === 'http://10.0.0.2:80')?.state).toBe('draining')
    // No new attempt reaches the draining endpoint.
    for (let i = 0; i < 9; i++) expect(await balancer.call(async (e) => e.id)).not.toBe('http://10.0.0.2:80')
    expect(closed).toEqual([])
    // Its in-flight attempt finishes normally, then its client closes exactly once.
    for (const r of release) r()
    expect(await Promise.all(running)).toContain('http://10.0.0.2:80')
    expect(closed).toEqual(['http://10.0.0.2:80'])
    await clock.advance(60_000)
    expect(closed).toEqual(['http://10.0.0.2:80'])
    expect(balancer.endpoints.find((e) => e.id === 'http://10.0.0.1:80')).toBeDefined()
    expect(before).toBeDefined()
  })

  it('cancels an attempt still running at drainTimeout with EndpointRemovedError', async () => {
    const { balancer, clock } = make({ drainTimeout: 1_000, retry: false })
    let signal: AbortSignal | undefined
    const hung = balancer.call(async (_endpoint, attempt) => {
      signal = attempt.signal
      return new Promise((_resolve, reject) =>
        attempt.signal.addEventListener('abort', () => reject(attempt.signal.reason)),
      )
    })
    const outcome = hung.catch((e: unknown) => e)
    await flush()
    const busy = balancer.snapshot().endpoints.find((e) => e.inFlight === 1)!
    balancer.remove(busy.id)
    expect(balancer.snapshot().endpoints.find((e) => e.id === busy.id)).toMatchObject({
      state: 'draining',
      inFlight: 1,
    })
    await clock.advance(999)
    expect(signal?.aborted).toBe(false)
    await clock.advance(1)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(EndpointRemovedError)
    expect(await outcome).toBeInstanceOf(EndpointRemovedError)
    expect(balancer.snapshot().endpoints.find((e) => e.id === busy.id)).toBeUndefined()
    expect(totalInFlight(balancer)).toBe(0)
  })

  it('revives an id re-added while draining, with its state', async () => {
    const { balancer } = make()
    let release!: () => void
    const running = balancer.call(async () => new Promise<void>((resolve) => (release = resolve)))
    await flush()
    const id = balancer.snapshot().endpoints.find((e) => e.inFlight === 1)!.id
    balancer.remove(id)
    expect(balancer.snapshot().endpoints.find((e) => e.id === id)?.state).toBe('draining')
    balancer.add(id)
    const revived = balancer.snapshot().endpoints.find((e) => e.id === id)!
    expect(revived.state).toBe('active')
    expect(revived.inFlight).toBe(1)
    release()
    await running
    expect(balancer.snapshot().endpoints.find((e) => e.id === id)?.requests).toBe(1)
  })

  it('throws on duplicate ids and names the entries', () => {
    expect(() => new Balancer({ endpoints: ['http://h:1', 'http://H:1/'] })).toThrow(
      'Expected `endpoints[1]` to be an endpoint not already listed (same id as endpoints[0]), got "http://H:1/"',
    )
  })
})

describe('resources', () => {
  it('creates one resource per endpoint lazily and closes each exactly once on close()', async () => {
    const { balancer } = make()
    const created: string[] = []
    const closed: string[] = []
    const pools = balancer.resource('pool', {
      create: (info) => {
        created.push(info.id)
        return { id: info.id }
      },
      close: async (pool) => {
        closed.push(pool.id)
      },
    })
    for (let i = 0; i < 6; i++) await balancer.call(async (endpoint) => pools.get(endpoint).id)
    expect(created.sort()).toEqual([...three].sort())
    await balancer.close()
    expect(closed.sort()).toEqual([...three].sort())
    expect(() => pools.get('http://10.0.0.9:80')).toThrow(EndpointRemovedError)
  })

  it('types endpoint.client from createClient', async () => {
    const { balancer } = make({ createClient: (info) => ({ base: info.origin, hits: 0 }) })
    const origin = await balancer.call(async (endpoint) => {
      endpoint.client.hits++
      return endpoint.client.base
    })
    expect(origin).toMatch(/^http:\/\/10\.0\.0\.\d:80$/)
    const plain = make().balancer
    await expect(plain.call(async (endpoint) => (endpoint as { client: unknown }).client)).rejects.toThrow(
      /createClient/,
    )
  })
})
