import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Balancer,
  type BalancerOptions,
  DeadlineExceededError,
  type PickerFactory,
  RetriesExhaustedError,
  seededRandom,
} from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'
import { closedPort, startServers, type TestServer } from '../helpers/servers.ts'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

async function servers(n: number, handler: (res: ServerResponse) => void): Promise<TestServer[]> {
  const list = await startServers(n, (_req, res) => handler(res))
  open.push(...list)
  return list
}

function balancer(endpoints: string[], options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const b = new Balancer({
    endpoints,
    clock,
    random: seededRandom(5),
    picker: 'round-robin',
    outlierDetection: false,
    breaker: false,
    ...options,
  })
  open.push(b)
  return { b, clock }
}

const get = async (url: string, signal: AbortSignal) => {
  const res = await fetch(url, { signal })
  if (res.status >= 500) {
    await res.body?.cancel()
    throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, headers: res.headers })
  }
  return res.text()
}

const answer503 = (res: ServerResponse) => {
  res.statusCode = 503
  res.end('unavailable')
}

describe('retry with failover against real servers', () => {
  it('sends a non-idempotent call answered 503 once, and passes its error through unchanged', async () => {
    const list = await servers(3, answer503)
    const { b } = balancer(list.map((s) => s.url))
    const error = await b.call((e, a) => get(e.resolve('/order'), a.signal)).catch((e: unknown) => e)
    expect(error).toMatchObject({ message: 'HTTP 503', status: 503 })
    expect(error).not.toBeInstanceOf(RetriesExhaustedError)
    expect(list.reduce((sum, s) => sum + s.requests.length, 0)).toBe(1)
  })

  it('retries a refused connection even for a non-idempotent call', async () => {
    const [live] = await servers(1, (res) => res.end('created'))
    const dead = `http://127.0.0.1:${await closedPort()}`
    const { b } = balancer([dead, live!.url], { retry: { minTimeout: 0 } })
    const seen: string[] = []
    b.on('attempt', ({ endpoint, verdict }) => seen.push(`${endpoint.id} ${verdict}`))
    for (let i = 0; i < 4; i++) {
      expect(await b.call((e, a) => get(e.resolve('/order'), a.signal))).toBe('created')
    }
    expect(live!.requests).toHaveLength(4)
    const toDead = seen.filter((s) => s.startsWith(dead))
    expect(toDead.length).toBeGreaterThan(0)
    expect(toDead.every((s) => s === `${dead} not-sent`)).toBe(true)
  })

  it('retries an idempotent call answered 503 on a different server', async () => {
    const list = await servers(3, answer503)
    list[2]!.handle((_req, res) => res.end('fine'))
    const { b } = balancer(
      list.map((s) => s.url),
      { retry: { minTimeout: 0 } },
    )
    const servedBy: string[][] = []
    for (let i = 0; i < 6; i++) {
      const before = list.map((s) => s.requests.length)
      expect(await b.call((e, a) => get(e.resolve('/x'), a.signal), { idempotent: true })).toBe('fine')
      servedBy.push(list.map((s, j) => `${s.requests.length - before[j]!}`))
    }
    // No server sees the same call twice: each retry went elsewhere.
    for (const counts of servedBy) expect(counts.every((c) => c === '0' || c === '1')).toBe(true)
  })

  it('waits out Retry-After when no other endpoint is eligible, and fails over at once when one is', async () => {
    const [only] = await servers(1, (res) => {
      res.statusCode = 503
      res.setHeader('retry-after', '10')
      res.end()
    })
    const { b, clock } = balancer([only!.url])
    let retried: number | undefined
    b.on('retry', ({ delay }) => (retried = delay))
    const call = b
      .call((e, a) => get(e.resolve('/'), a.signal), { idempotent: true, retry: { retries: 1 } })
      .catch((e: unknown) => e)
    await waitFor(() => retried !== undefined)
    expect(retried).toBeGreaterThanOrEqual(10_000)
    expect(only!.requests).toHaveLength(1)
    await clock.advance(9_999)
    expect(only!.requests).toHaveLength(1)
    await clock.advance(1)
    await waitFor(() => only!.requests.length === 2)
    expect(await call).toBeInstanceOf(RetriesExhaustedError)

    // Levels order endpoints by id: the first by id is the one `firstPicker` tries first.
    const pair = (await servers(2, (res) => res.end('ok'))).sort((x, y) => (x.url < y.url ? -1 : 1))
    pair[0]!.handle((_req, res) => {
      res.statusCode = 503
      res.setHeader('retry-after', '10')
      res.end()
    })
    const two = balancer(
      pair.map((s) => s.url),
      { picker: { name: 'first', build: firstPicker } },
    )
    const delays: number[] = []
    two.b.on('retry', ({ delay }) => delays.push(delay))
    const result = two.b.call((e, a) => get(e.resolve('/'), a.signal), { idempotent: true })
    await waitFor(() => delays.length === 1)
    expect(delays[0]).toBeLessThan(25)
    await two.clock.advance(25)
    expect(await result).toBe('ok')
    expect(pair.map((s) => s.requests.length)).toEqual([1, 1])
  })

  it('keeps a total outage within the budget: 2,000 calls make at most 2,000 + 400 + 100 attempts', async () => {
    const list = await servers(3, answer503)
    const { b } = balancer(
      list.map((s) => s.url),
      { retry: { minTimeout: 0 } },
    )
    let exhausted = 0
    b.on('budgetExhausted', () => exhausted++)
    let next = 0
    const worker = async () => {
      while (next < 2_000) {
        next++
        await b.call((e, a) => get(e.resolve('/'), a.signal), { idempotent: true }).catch(() => {})
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    const attempts = list.reduce((sum, s) => sum + s.requests.length, 0)
    expect(attempts).toBeGreaterThan(2_000)
    expect(attempts).toBeLessThanOrEqual(2_000 + 400 + 100)
    expect(exhausted).toBeGreaterThan(0)
  })

  it('rejects at once with the abort reason when the caller aborts during a 10 s Retry-After wait', async () => {
    const [only] = await servers(1, (res) => {
      res.statusCode = 429
      res.setHeader('retry-after', '10')
      res.end()
    })
    const { b } = balancer([only!.url])
    const controller = new AbortController()
    let waiting = false
    b.on('retry', () => (waiting = true))
    const call = b
      .call(
        async (e, a) => {
          const res = await fetch(e.resolve('/'), { signal: a.signal })
          if (res.status === 429) throw Object.assign(new Error('429'), { status: 429, headers: res.headers })
          return res.text()
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e)
    await waitFor(() => waiting)
    const reason = new Error('user navigated away')
    controller.abort(reason)
    expect(await call).toBe(reason)
    expect(only!.requests).toHaveLength(1)
  })

  it('rejects with DeadlineExceededError when the overall timeout passes, and in-flight is 0 once fn settles', async () => {
    const list = await servers(2, (res) => {
      const timer = setTimeout(() => res.end('late'), 1_000)
      res.on('close', () => clearTimeout(timer))
    })
    const { b, clock } = balancer(
      list.map((s) => s.url),
      { retry: { minTimeout: 0 } },
    )
    let settled = false
    const call = b
      .call(
        async (e, a) => {
          try {
            return await get(e.resolve('/'), a.signal)
          } finally {
            settled = true
          }
        },
        { timeout: 200, idempotent: true },
      )
      .catch((e: unknown) => e)
    await waitFor(() => list.some((s) => s.requests.length === 1))
    await clock.advance(200)
    expect(await call).toBeInstanceOf(DeadlineExceededError)
    await waitFor(() => settled)
    expect(b.snapshot().endpoints.every((e) => e.inFlight === 0)).toBe(true)
  })

  it('reports every attempt in RetriesExhaustedError after several, in order', async () => {
    const list = await servers(3, answer503)
    const { b } = balancer(
      list.map((s) => s.url),
      { retry: { minTimeout: 0 } },
    )
    const error = (await b
      .call((e, a) => get(e.resolve('/'), a.signal), { idempotent: true })
      .catch((e: unknown) => e)) as RetriesExhaustedError
    expect(error).toBeInstanceOf(RetriesExhaustedError)
    expect(error.reason).toBe('retries')
    expect(error.attempts.map((a) => a.verdict)).toEqual(['endpoint-failure', 'endpoint-failure', 'endpoint-failure'])
    expect(new Set(error.attempts.map((a) => a.endpoint)).size).toBe(3)
    expect(error.cause).toMatchObject({ message: 'HTTP 503' })
  })

  it("sends a keyed call's retry to the key's next choice", async () => {
    const list = await servers(3, answer503)
    list[1]!.handle((_req, res) => res.end('second choice'))
    const order = list.map((s) => `http://127.0.0.1:${s.port}`)
    const { b } = balancer(order, {
      picker: preferenceOrder(order),
      fallbackPicker: 'round-robin',
      retry: { minTimeout: 0 },
    })
    expect(await b.call((e, a) => get(e.resolve('/'), a.signal), { key: 'user-42', idempotent: true })).toBe(
      'second choice',
    )
    expect(list.map((s) => s.requests.length)).toEqual([1, 1, 0])
  })
})

/** Always the first endpoint it may use: makes "the other one" deterministic. */
function firstPicker(endpoints: readonly Parameters<PickerFactory['build']>[0][number][]) {
  return {
    pick: (context: Parameters<ReturnType<PickerFactory['build']>['pick']>[0]) =>
      endpoints.find((e) => !context.skipped(e) && e.inFlight < context.maxInFlight),
  }
}

/** A keyed picker whose preference order for every key is `order`: retries walk it. */
function preferenceOrder(order: string[]): PickerFactory {
  return {
    name: 'preference',
    keyed: true,
    scope: 'members',
    build: (endpoints) => {
      const sorted = order.map((id) => endpoints.find((e) => e.endpoint.id === id)!)
      return { pick: (context) => sorted.find((e) => e.pickable && !context.skipped(e)) }
    },
  }
}

async function waitFor(condition: () => boolean, ms = 5_000): Promise<void> {
  const start = performance.now()
  while (!condition()) {
    if (performance.now() - start > ms) throw new Error(`condition not met in time: ${condition}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
    await flush(1)
  }
}
