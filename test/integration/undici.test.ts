import { Readable, Writable } from 'node:stream'
import { interceptors, request, stream, fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import { BalancerDispatcher } from '../../src/adapters/undici.ts'
import type { AttemptEvent, BalancerOptions, EndpointInput } from '../../src/index.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { deferred } from '../helpers/deferred.ts'
import { adapterHarness, answer, totalRequests } from '../helpers/harness.ts'
import { closedPort } from '../helpers/servers.ts'

const { servers, observe } = adapterHarness()

function balanced(endpoints: readonly EndpointInput[], options: BalancerOptions<never> = {}) {
  const observed = observe(endpoints, options)
  return { ...observed, dispatcher: new BalancerDispatcher(observed.balancer) }
}

const total = totalRequests

describe('BalancerDispatcher', () => {
  it('sends traffic to all three backends', async () => {
    const backends = await servers(3)
    const { dispatcher } = balanced(backends.map((s) => s.url))
    const result = await closedLoop(300, 8, async () => {
      const res = await request('http://users.internal/hello', { dispatcher })
      expect(await res.body.text()).toBe('ok')
    })
    expect(result).toEqual({ ok: 300, errors: [] })
    const counts = backends.map((s) => s.requests.length)
    expect(counts.reduce((a, b) => a + b)).toBe(300)
    for (const count of counts) expect(count).toBeGreaterThan(0)
  })

  it('loses no call when a backend is killed in the middle of 3,000 GETs at concurrency 16', async () => {
    const backends = await servers(3)
    const victim = backends[1]!
    // Killed while serving its 200th request: every connection to it is reset mid-flight.
    victim.handle((_req, res) => {
      if (victim.requests.length === 200) void victim.close()
      else res.end('ok')
    })
    const { dispatcher, attempts } = balanced(backends.map((s) => s.url))
    const result = await closedLoop(3_000, 16, async (i) => {
      const res = await request(`http://users.internal/item/${i}`, { dispatcher })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    })
    expect(result.errors).toEqual([])
    expect(result.ok).toBe(3_000)
    expect(victim.requests.length).toBe(200)
    // The victim answered 199 (its handler is synchronous: only the 200th was in flight when it
    // died); every other call was answered exactly once by the two survivors.
    expect(backends[0]!.requests.length + backends[2]!.requests.length).toBe(3_000 - 199)
    const failed = attempts.filter((a) => a.verdict !== 'success')
    // DESIGN §4: attempts to a killed backend ≤ the calls in flight when it died (16) + 1.
    expect(failed.length).toBeLessThanOrEqual(17)
    expect(failed.length).toBeGreaterThan(0)
    for (const a of failed) expect(a.endpoint.port).toBe(victim.port)
  })

  it('sends a PUT with a stream body once when it is answered 503', async () => {
    const backends = await servers(3, answer(503, 'busy'))
    const { dispatcher, attempts, settled } = balanced(backends.map((s) => s.url))
    const res = await request('http://users.internal/upload', {
      dispatcher,
      method: 'PUT',
      body: Readable.from([Buffer.from('chunk-1'), Buffer.from('chunk-2')]),
    })
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe('busy')
    expect(backends.map((s) => s.requests.length).reduce((a, b) => a + b)).toBe(1)
    await settled(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
  })

  it('retries a stream body that provably never left, and sends it whole', async () => {
    const dead = await closedPort()
    const [live] = await servers(1, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => res.end(Buffer.concat(chunks)))
    })
    const { dispatcher, attempts } = balanced([`http://127.0.0.1:${dead}`, live!.url], { picker: 'round-robin' })
    for (let i = 0; i < 4; i++) {
      const res = await request('http://users.internal/upload', {
        dispatcher,
        method: 'POST',
        body: Readable.from([Buffer.from(`part-${i}-a;`), Buffer.from(`part-${i}-b`)]),
      })
      expect(await res.body.text()).toBe(`part-${i}-a;part-${i}-b`)
    }
    expect(live!.requests.length).toBe(4)
    expect(attempts.filter((a) => a.verdict === 'not-sent').length).toBeGreaterThan(0)
  })

  it('returns a 404 to the caller without retrying it or ejecting anything', async () => {
    const backends = await servers(3, answer(404, 'no such user'))
    const { balancer, dispatcher, attempts, settled } = balanced(backends.map((s) => s.url))
    for (let i = 0; i < 30; i++) {
      const res = await request(`http://users.internal/users/${i}`, { dispatcher })
      expect(res.statusCode).toBe(404)
      expect(await res.body.text()).toBe('no such user')
    }
    expect(backends.map((s) => s.requests.length).reduce((a, b) => a + b)).toBe(30)
    await settled(30)
    expect(attempts).toHaveLength(30)
    expect(attempts.every((a) => a.verdict === 'caller-error' && !a.retried)).toBe(true)
    for (const endpoint of balancer.snapshot().endpoints) {
      expect(endpoint.state).toBe('active')
      expect(endpoint.failures).toBe(0)
    }
  })

  it('retries a 503 on another backend and hands the caller the 200', async () => {
    const backends = await servers(3)
    backends[0]!.handle(answer(503, 'down'))
    const { dispatcher, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 9; i++) {
      const res = await request('http://users.internal/', { dispatcher })
      expect(res.statusCode).toBe(200)
      expect(await res.body.text()).toBe('ok')
    }
    expect(attempts.some((a) => a.verdict === 'endpoint-failure' && a.retried)).toBe(true)
  })

  it('replays the last held-back 503 whole when the retries run out', async () => {
    const body = 'x'.repeat(20_000)
    const backends = await servers(3, answer(503, body))
    const { dispatcher, attempts } = balanced(backends.map((s) => s.url))
    const res = await request('http://users.internal/', { dispatcher })
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe(body)
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure', 'endpoint-failure', 'endpoint-failure'])
  })

  it('drops a 503 whose body outgrows what it holds back and retries, like createFetch; the last reaches the caller whole', async () => {
    const body = 'x'.repeat(200_000)
    const backends = await servers(3, answer(503, body))
    const { dispatcher, attempts, settled } = balanced(backends.map((s) => s.url))
    const res = await request('http://users.internal/', { dispatcher })
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe(body)
    await settled(3)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([
      ['endpoint-failure', true],
      ['endpoint-failure', true],
      ['endpoint-failure', false],
    ])
    expect(total(backends)).toBe(3)
  })

  it('retries a POST only with an Idempotency-Key', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503))
    const { dispatcher, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await request('http://users.internal/orders', { dispatcher, method: 'POST', body: 'order' })
      statuses.push(res.statusCode)
      await res.body.dump()
    }
    expect(statuses).toContain(503)
    await settled(4)
    expect(attempts).toHaveLength(4)
    expect(attempts.every((a) => !a.retried)).toBe(true)
    for (let i = 0; i < 4; i++) {
      const res = await request('http://users.internal/orders', {
        dispatcher,
        method: 'POST',
        body: 'order',
        headers: { 'idempotency-key': `order-${i}` },
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
  })

  it('treats a request undici refuses as the caller’s error: no retry, nothing against the endpoint', async () => {
    const backends = await servers(2)
    const { balancer, dispatcher, attempts } = balanced(backends.map((s) => s.url))
    const error = await request('http://users.internal/', { dispatcher, headers: { 'x-bad': 'a\nb' } }).catch(
      (e: unknown) => e,
    )
    expect((error as { code?: string }).code).toBe('UND_ERR_INVALID_ARG')
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['caller-error', false]])
    expect(balancer.snapshot().endpoints.every((e) => e.failures === 0)).toBe(true)
    expect(total(backends)).toBe(0)
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
    const { balancer, dispatcher, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { hedge: { delay: 30 } },
    )
    const lost = new Promise<void>((resolve) => balancer.on('attempt', (a) => a.verdict === 'cancelled' && resolve()))
    const res = await request('http://users.internal/report', { dispatcher })
    expect(res.statusCode).toBe(200)
    firstSeen.fire()
    await lost
    finishFirst.fire()
    expect(await res.body.text()).toBe('part-1;part-2')
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
    const { balancer, dispatcher, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { hedge: { delay: 30 } },
    )
    const hedgeDropped = new Promise<void>((resolve) =>
      balancer.on('attempt', (a) => a.verdict === 'cancelled' && resolve()),
    )
    const res = await request('http://users.internal/report', { dispatcher })
    expect(res.statusCode).toBe(200)
    await hedgeDropped
    finish.fire()
    expect(await res.body.text()).toBe('part-1;part-2')
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
    const { balancer, dispatcher, attempts } = balanced([backend!.url])
    const res = await request('http://users.internal/download', { dispatcher })
    const reader = res.body[Symbol.asyncIterator]()
    expect(String((await reader.next()).value)).toBe('first;')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    expect(attempts).toEqual([])
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    finish()
    let rest = ''
    for (let chunk = await reader.next(); !chunk.done; chunk = await reader.next()) rest += String(chunk.value)
    expect(rest).toBe('last')
    expect((await ended).verdict).toBe('success')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it("keeps the endpoint's path prefix and sets Host to its servername", async () => {
    const [backend] = await servers(1)
    const { dispatcher } = balanced([{ url: `${backend!.url}/api/v2`, servername: 'users.internal' }])
    const res = await request('http://ignored.example/users/42?fields=name', { dispatcher })
    await res.body.dump()
    expect(backend!.requests[0]!.url).toBe('/api/v2/users/42?fields=name')
    expect(backend!.requests[0]!.headers.host).toBe(`users.internal:${backend!.port}`)
  })

  it('routes requests with the same key to the same backend with ring-hash', async () => {
    const backends = await servers(3)
    const { dispatcher } = balanced(
      backends.map((s) => s.url),
      { picker: 'ring-hash' },
    )
    const users = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6']
    const served = new Map<string, Set<number>>()
    for (let round = 0; round < 3; round++) {
      for (const key of users) {
        const res = await request(`http://users.internal/profile/${key}`, { dispatcher, key } as Parameters<
          typeof request
        >[1])
        await res.body.dump()
      }
    }
    for (const [i, s] of backends.entries()) {
      for (const r of s.requests) {
        const key = r.url.split('/').pop()!
        served.set(key, (served.get(key) ?? new Set()).add(i))
      }
    }
    expect([...served.keys()].sort()).toEqual(users)
    for (const backendsOfKey of served.values()) expect(backendsOfKey.size).toBe(1)
  })

  it('works with fetch, stream, compose and Node’s built-in fetch', async () => {
    const backends = await servers(2)
    const { dispatcher } = balanced(backends.map((s) => s.url))
    const viaFetch = await undiciFetch('http://users.internal/a', { dispatcher })
    expect(await viaFetch.text()).toBe('ok')
    const chunks: Buffer[] = []
    await stream('http://users.internal/b', { dispatcher, method: 'GET' }, () => {
      return new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk)
          done()
        },
      })
    })
    expect(Buffer.concat(chunks).toString()).toBe('ok')
    const composed = dispatcher.compose(interceptors.responseError())
    const viaCompose = await request('http://users.internal/c', { dispatcher: composed })
    expect(await viaCompose.body.text()).toBe('ok')
    // Node's fetch bundles its own undici, which dispatches with the legacy handler API.
    const builtIn = await fetch('http://users.internal/d', { dispatcher } as unknown as RequestInit)
    expect(await builtIn.text()).toBe('ok')
    expect(backends.map((s) => s.requests.length).reduce((a, b) => a + b)).toBe(4)
  })

  it('rejects like undici with the last error when no backend answers', async () => {
    const { dispatcher, attempts } = balanced([`http://127.0.0.1:${await closedPort()}`])
    const error = await request('http://users.internal/', { dispatcher }).catch((e: unknown) => e)
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'not-sent', 'not-sent'])
  })

  it('never retries a response already handed over, even when its attempt times out', async () => {
    const backends = await servers(2, (_req, res) => res.write('partial'))
    const { dispatcher, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { attemptTimeout: 300 },
    )
    const res = await request('http://users.internal/slow', { dispatcher })
    expect(res.statusCode).toBe(200)
    await expect(res.body.text()).rejects.toMatchObject({ code: 'KEEL_ATTEMPT_TIMEOUT' })
    await settled(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
    expect(total(backends)).toBe(1)
  })

  it("ends an attempt at the Pool's bodyTimeout and hands the caller undici's error", async () => {
    const [backend] = await servers(1, (_req, res) => res.write('partial'))
    const { balancer } = observe([backend!.url])
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    const dispatcher = new BalancerDispatcher(balancer, { bodyTimeout: 200 })
    const res = await request('http://users.internal/slow', { dispatcher })
    await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
    expect(await ended).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    expect(backend!.requests).toHaveLength(1)
  })

  it('aborts the request when the caller’s signal fires mid-body', async () => {
    const [backend] = await servers(1, (_req, res) => res.write('partial'))
    const { balancer, dispatcher } = balanced([backend!.url])
    const controller = new AbortController()
    const res = await request('http://users.internal/slow', { dispatcher, signal: controller.signal })
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    controller.abort(new Error('stop'))
    await expect(res.body.text()).rejects.toThrow('stop')
    expect((await ended).verdict).toBe('cancelled')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('closes its Pools on close() and refuses new requests', async () => {
    const [backend] = await servers(1)
    const { dispatcher } = balanced([backend!.url])
    await (await request('http://users.internal/', { dispatcher })).body.dump()
    await dispatcher.close()
    expect(dispatcher.closed).toBe(true)
    await expect(request('http://users.internal/', { dispatcher })).rejects.toMatchObject({ code: 'UND_ERR_CLOSED' })
  })
})
