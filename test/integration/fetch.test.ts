import { Readable } from 'node:stream'
import { Response as UndiciResponse, fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import { createFetch } from '../../src/adapters/fetch/index.ts'
import type { AttemptEvent, BalancerOptions, EndpointInput } from '../../src/index.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { deferred } from '../helpers/deferred.ts'
import { adapterHarness, answer, totalRequests } from '../helpers/harness.ts'
import { closedPort } from '../helpers/servers.ts'

const { servers, observe } = adapterHarness()

function balanced(
  endpoints: readonly EndpointInput[],
  options: BalancerOptions<never> = {},
  fetchOptions: Parameters<typeof createFetch>[1] = {},
) {
  const observed = observe(endpoints, options)
  return { ...observed, fetch: createFetch(observed.balancer, fetchOptions) }
}

const total = totalRequests

describe('createFetch', () => {
  it('sends traffic to all three backends', async () => {
    const backends = await servers(3)
    const { fetch } = balanced(backends.map((s) => s.url))
    const result = await closedLoop(300, 8, async () => {
      const res = await fetch('/hello')
      expect(await res.text()).toBe('ok')
    })
    expect(result).toEqual({ ok: 300, errors: [] })
    expect(total(backends)).toBe(300)
    for (const s of backends) expect(s.requests.length).toBeGreaterThan(0)
  })

  it('loses no call when a backend is killed in the middle of 3,000 GETs at concurrency 16', async () => {
    const backends = await servers(3)
    const victim = backends[1]!
    victim.handle((_req, res) => {
      if (victim.requests.length === 200) void victim.close()
      else res.end('ok')
    })
    const { fetch, attempts } = balanced(backends.map((s) => s.url))
    const result = await closedLoop(3_000, 16, async (i) => {
      const res = await fetch(`/item/${i}`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    })
    expect(result.errors).toEqual([])
    expect(result.ok).toBe(3_000)
    expect(victim.requests.length).toBe(200)
    expect(backends[0]!.requests.length + backends[2]!.requests.length).toBe(3_000 - 199)
    const failed = attempts.filter((a) => a.verdict !== 'success')
    // docs/retries.md (failover): attempts to a killed backend ≤ the calls in flight when it died (16) + 1.
    expect(failed.length).toBeLessThanOrEqual(17)
    expect(failed.length).toBeGreaterThan(0)
    for (const a of failed) expect(a.endpoint.port).toBe(victim.port)
  })

  it('sends a PUT with a stream body once when it is answered 503', async () => {
    const backends = await servers(3, answer(503, 'busy'))
    const { balancer, fetch, attempts } = balanced(backends.map((s) => s.url))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk-1;'))
        controller.enqueue(new TextEncoder().encode('chunk-2'))
        controller.close()
      },
    })
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    const res = await fetch('/upload', { method: 'PUT', body, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('busy')
    // The 503 was handed over at once: its attempt ends with its body.
    expect(await ended).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    expect(total(backends)).toBe(1)
    expect(attempts).toHaveLength(1)
  })

  it('retries a stream body that provably never left, and sends it whole', async () => {
    const dead = await closedPort()
    const [live] = await servers(1, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => res.end(Buffer.concat(chunks)))
    })
    const { fetch, attempts } = balanced([`http://127.0.0.1:${dead}`, live!.url], { picker: 'round-robin' })
    for (let i = 0; i < 4; i++) {
      const body = Readable.from([Buffer.from(`part-${i}-a;`), Buffer.from(`part-${i}-b`)])
      const res = await fetch('/upload', { method: 'POST', body, duplex: 'half' } as unknown as RequestInit)
      expect(await res.text()).toBe(`part-${i}-a;part-${i}-b`)
    }
    expect(live!.requests.length).toBe(4)
    expect(attempts.filter((a) => a.verdict === 'not-sent').length).toBeGreaterThan(0)
  })

  it('returns a 404 to the caller without retrying it or ejecting anything', async () => {
    const backends = await servers(3, answer(404, 'no such user'))
    const { balancer, fetch, attempts, settled } = balanced(backends.map((s) => s.url))
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`/users/${i}`)
      expect(res.status).toBe(404)
      expect(await res.text()).toBe('no such user')
    }
    expect(total(backends)).toBe(30)
    await settled(30)
    expect(attempts).toHaveLength(30)
    expect(attempts.every((a) => a.verdict === 'caller-error' && !a.retried)).toBe(true)
    for (const endpoint of balancer.snapshot().endpoints) {
      expect(endpoint.state).toBe('active')
      expect(endpoint.failures).toBe(0)
    }
  })

  it('discards retried 503s so their sockets are reused', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503, 'down '.repeat(1_000)))
    const { fetch, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 10; i++) {
      const res = await fetch('/')
      expect(res.status).toBe(200)
      await res.text()
    }
    expect(attempts.filter((a) => a.verdict === 'endpoint-failure' && a.retried).length).toBeGreaterThanOrEqual(5)
    // A 503 body left unread would pin its socket and force a new connection per request.
    expect(backends[0]!.connections).toBe(1)
  })

  it('keeps the endpoint’s path prefix for relative URLs and serviceUrl ones', async () => {
    const [backend] = await servers(1)
    const { fetch } = balanced([`${backend!.url}/api/v2`], {}, { serviceUrl: 'http://users.internal/v2' })
    await (await fetch('/users/42?fields=name')).text()
    await (await fetch('users/43')).text()
    await (await fetch('http://users.internal/v2/users/44')).text()
    await (await fetch(new Request('http://users.internal/v2/users/45', { headers: { 'x-a': '1' } }))).text()
    expect(backend!.requests.map((r) => r.url)).toEqual([
      '/api/v2/users/42?fields=name',
      '/api/v2/users/43',
      '/api/v2/users/44',
      '/api/v2/users/45',
    ])
    expect(backend!.requests[3]!.headers['x-a']).toBe('1')
    await expect(fetch('http://elsewhere.example/users/1')).rejects.toThrow(TypeError)
    expect(backend!.requests.length).toBe(4)
  })

  it('retries a POST only with an Idempotency-Key', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503))
    const { fetch, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await fetch('/orders', { method: 'POST', body: 'order' })
      statuses.push(res.status)
      await res.text()
    }
    expect(statuses).toContain(503)
    await settled(4)
    expect(attempts).toHaveLength(4)
    expect(attempts.every((a) => !a.retried)).toBe(true)
    for (let i = 0; i < 4; i++) {
      const res = await fetch('/orders', { method: 'POST', body: 'order', headers: { 'Idempotency-Key': `o-${i}` } })
      expect(res.status).toBe(200)
      await res.text()
    }
  })

  it('keeps streaming the response it handed over when a hedge answers later', async () => {
    const hedgeArrived = deferred()
    const firstSeen = deferred()
    const finishFirst = deferred()
    let seen = 0
    const backends = await servers(2, (_req, res) => {
      if (++seen === 1) {
        // The first attempt answers once the hedge is out, then streams until the test says.
        void hedgeArrived.fired.then(() => res.write('part-1;'))
        void finishFirst.fired.then(() => res.end('part-2'))
      } else {
        hedgeArrived.fire()
        // The hedge answers only after the caller holds the first response.
        void firstSeen.fired.then(() => res.end('hedge'))
      }
    })
    const { balancer, fetch, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { hedge: { delay: 30 } },
    )
    const lost = new Promise<void>((resolve) => balancer.on('attempt', (a) => a.verdict === 'cancelled' && resolve()))
    const res = await fetch('/report')
    expect(res.status).toBe(200)
    firstSeen.fire()
    await lost
    finishFirst.fire()
    expect(await res.text()).toBe('part-1;part-2')
    await settled(2)
    expect(attempts.map((a) => a.verdict).sort()).toEqual(['cancelled', 'success'])
    expect(total(backends)).toBe(2)
  })

  it('sends no hedge while a response it handed over is still streaming', async () => {
    const finish = deferred()
    const backends = await servers(2, (_req, res) => {
      res.write('part-1;')
      void finish.fired.then(() => res.end('part-2'))
    })
    const { balancer, fetch, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { hedge: { delay: 30 } },
    )
    const hedgeDropped = new Promise<void>((resolve) =>
      balancer.on('attempt', (a) => a.verdict === 'cancelled' && resolve()),
    )
    const res = await fetch('/report')
    expect(res.status).toBe(200)
    await hedgeDropped
    finish.fire()
    expect(await res.text()).toBe('part-1;part-2')
    await settled(2)
    expect(attempts.map((a) => a.verdict).sort()).toEqual(['cancelled', 'success'])
    expect(total(backends)).toBe(1)
  })

  it('counts a streaming download in flight until its body ends', async () => {
    const { fire: finish, fired: released } = deferred()
    const [backend] = await servers(1, (_req, res) => {
      res.write('first;')
      void released.then(() => res.end('last'))
    })
    const { balancer, fetch, attempts } = balanced([backend!.url])
    const res = await fetch('/download')
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first;')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    expect(attempts).toEqual([])
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    finish()
    let rest = ''
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value)
    }
    expect(rest).toBe('last')
    expect((await ended).verdict).toBe('success')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('watches the body stream when the fetch it is given ignores `dispatcher`', async () => {
    const { fire: finish, fired: released } = deferred()
    const [backend] = await servers(1, (_req, res) => {
      res.write('first;')
      void released.then(() => res.end('last'))
    })
    // A fetch not built on undici: it never calls the dispatcher keel passes.
    const plain = (url: string, init?: RequestInit) => {
      const { dispatcher: _ignored, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown }
      return globalThis.fetch(url, rest)
    }
    const { balancer, fetch } = balanced([backend!.url], {}, { fetch: plain })
    const res = await fetch('/download')
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first;')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    finish()
    while (!(await reader.read()).done) {}
    expect((await ended).verdict).toBe('success')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('never retries a response already handed over, even when its attempt times out', async () => {
    const backends = await servers(2, (_req, res) => res.write('partial'))
    const { balancer, fetch, attempts } = balanced(
      backends.map((s) => s.url),
      { attemptTimeout: 300 },
    )
    const res = await fetch('/slow')
    expect(res.status).toBe(200)
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    await expect(res.text()).rejects.toThrow()
    expect(await ended).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    expect(total(backends)).toBe(1)
    expect(attempts).toHaveLength(1)
  })

  it('ends the attempt as cancelled when the caller cancels the body', async () => {
    const [backend] = await servers(1, (_req, res) => res.write('partial'))
    const { balancer, fetch } = balanced([backend!.url])
    const res = await fetch('/slow')
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    await res.body!.cancel()
    expect((await ended).verdict).toBe('cancelled')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('rejects like fetch with the last error when no backend answers', async () => {
    const { fetch, attempts } = balanced([`http://127.0.0.1:${await closedPort()}`])
    const error = await fetch('/').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'not-sent', 'not-sent'])
  })

  it('rejects with the signal’s reason when the caller aborts', async () => {
    const [backend] = await servers(1, () => {})
    const { fetch } = balanced([backend!.url])
    const controller = new AbortController()
    const pending = fetch('/never', { signal: controller.signal })
    await new Promise<void>((resolve) => {
      const wait = () => (backend!.requests.length > 0 ? resolve() : setImmediate(wait))
      wait()
    })
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
  })

  it('uses the fetch it is given', async () => {
    const backends = await servers(3)
    const { fetch } = balanced(
      backends.map((s) => s.url),
      {},
      { fetch: undiciFetch as unknown as typeof globalThis.fetch },
    )
    const res = await fetch('/k')
    expect(res).toBeInstanceOf(UndiciResponse)
    expect(await res.text()).toBe('ok')
  })

  it('routes requests with the same key to the same backend with ring-hash', async () => {
    const backends = await servers(3)
    const { fetch } = balanced(
      backends.map((s) => s.url),
      { picker: 'ring-hash' },
    )
    const users = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6']
    for (let round = 0; round < 3; round++) {
      for (const key of users) await (await fetch(`/profile/${key}`, { key })).text()
    }
    const served = new Map<string, Set<number>>()
    for (const [i, s] of backends.entries()) {
      for (const r of s.requests) {
        const key = r.url.split('/').pop()!
        served.set(key, (served.get(key) ?? new Set()).add(i))
      }
    }
    expect([...served.keys()].sort()).toEqual(users)
    for (const backendsOfKey of served.values()) expect(backendsOfKey.size).toBe(1)
  })
})
