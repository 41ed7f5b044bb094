import { Writable } from 'node:stream'
import { interceptors, request, stream, fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import type { AttemptEvent, BalancerOptions, EndpointInput } from '../../src/index.ts'
import { BalancerDispatcher } from '../helpers/adapters.ts'
import { adapterHarness, answer, totalRequests } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness()

function balanced(endpoints: readonly EndpointInput[], options: BalancerOptions<never> = {}) {
  const observed = observe(endpoints, options)
  return { ...observed, dispatcher: new BalancerDispatcher(observed.balancer) }
}

const total = totalRequests

describe('BalancerDispatcher', () => {
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

  it("keeps the endpoint's path prefix and sets Host to its servername", async () => {
    const [backend] = await servers(1)
    const { dispatcher } = balanced([{ url: `${backend!.url}/api/v2`, servername: 'users.internal' }])
    const res = await request('http://ignored.example/users/42?fields=name', { dispatcher })
    await res.body.dump()
    expect(backend!.requests[0]!.url).toBe('/api/v2/users/42?fields=name')
    expect(backend!.requests[0]!.headers.host).toBe(`users.internal:${backend!.port}`)
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
