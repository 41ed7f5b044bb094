import { Agent, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { BalancerDispatcher, OriginRouter } from '../../src/adapters/undici/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { adapterHarness } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness(10_000)
const cleanups = cleanupsAfterEach()

// undici 8 stores the global dispatcher under `.2` and a legacy wrapper under `.1`, which the
// fetch bundled in Node 22 (undici 6) and Node 24 (undici 7) read.
const GLOBAL_KEYS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')] as const

/** Installs `router` as the global dispatcher until the test ends, then puts back what was there. */
function installGlobally(router: OriginRouter): void {
  const store = globalThis as unknown as Record<symbol, unknown>
  const previous = GLOBAL_KEYS.map((key) => store[key])
  cleanups.push(() => {
    GLOBAL_KEYS.forEach((key, i) => {
      store[key] = previous[i]
    })
  })
  setGlobalDispatcher(router)
}

describe('OriginRouter', () => {
  it('balances global fetch for a mapped origin and leaves every other origin alone', async () => {
    const backends = await servers(3)
    const { balancer, attempts } = observe([backends[0]!.url, backends[1]!.url], { picker: 'round-robin' })
    const router = new OriginRouter({ 'http://users.internal': balancer })
    cleanups.push(() => router.close())
    installGlobally(router)
    expect(getGlobalDispatcher()).toBe(router)

    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://users.internal/users/${i}`)
      expect(await res.text()).toBe('ok')
    }
    const other = await fetch(`${backends[2]!.url}/direct`)
    expect(await other.text()).toBe('ok')

    expect(backends.map((s) => s.requests.length)).toEqual([5, 5, 1])
    // The mapped origin's Host, as fetch would have sent it; the other origin's own.
    expect(new Set(backends.slice(0, 2).flatMap((s) => s.requests.map((r) => r.headers.host)))).toEqual(
      new Set(['users.internal']),
    )
    expect(backends[2]!.requests).toMatchObject([
      { url: '/direct', headers: { host: `127.0.0.1:${backends[2]!.port}` } },
    ])
    expect(attempts).toHaveLength(10)
  })

  it('retries a mapped GET on another endpoint; undici request() works through it too', async () => {
    const backends = await servers(2)
    backends[0]!.handle((_req, res) => {
      res.statusCode = 503
      res.end('down')
    })
    const { balancer, attempts, settled } = observe(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const fallback = new Agent()
    cleanups.push(() => fallback.close())
    const router = new OriginRouter({ 'http://users.internal:80/': balancer }, { fallback })
    cleanups.push(() => router.close())
    for (let i = 0; i < 4; i++) {
      const res = await request('http://users.internal/x', { dispatcher: router })
      expect(await res.body.text()).toBe('ok')
    }
    await settled(attempts.length)
    expect(attempts.filter((a) => a.verdict === 'endpoint-failure').every((a) => a.retried)).toBe(true)
    const direct = await request(`${backends[1]!.url}/y`, { dispatcher: router })
    expect(await direct.body.text()).toBe('ok')
    await router.close()
    // A fallback of the caller's stays open.
    expect(fallback.closed).toBe(false)
  })

  it('takes a BalancerDispatcher of yours and refuses requests once closed', async () => {
    const [backend] = await servers(1)
    const { balancer } = observe([backend!.url])
    const dispatcher = new BalancerDispatcher(balancer)
    cleanups.push(() => dispatcher.close())
    const router = new OriginRouter({ 'https://users.internal': dispatcher })
    const res = await request('https://users.internal/z', { dispatcher: router })
    expect(await res.body.text()).toBe('ok')
    await router.close()
    expect(router.closed).toBe(true)
    const error = await request('https://users.internal/z', { dispatcher: router }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('UND_ERR_CLOSED')
    expect(dispatcher.closed).toBe(false)
  })

  it('validates routes and options with messages that name them', () => {
    const balancer = new Balancer({ endpoints: ['127.0.0.1:1'] })
    cleanups.push(() => balancer.close())
    expect(() => new OriginRouter({ 'http://users.internal/api': balancer })).toThrow(
      "Expected `routes['http://users.internal/api']` to be keyed by an origin such as http://users.internal",
    )
    expect(() => new OriginRouter({ 'users.internal': balancer })).toThrow("`routes['users.internal']`")
    expect(() => new OriginRouter({ 'http://a.internal': {} as never })).toThrow(
      "Expected `routes['http://a.internal']` to be a keel Balancer or an undici Dispatcher",
    )
    expect(() => new OriginRouter({ 'http://a.internal': balancer, 'http://A.internal:80': balancer })).toThrow(
      'an origin not already mapped (http://a.internal)',
    )
    expect(() => new OriginRouter({}, { fallback: 3 as never })).toThrow(
      'Expected `fallback` to be an undici Dispatcher',
    )
    expect(() => new OriginRouter({}, { pools: {} } as never)).toThrow('Expected `pools` to be one of fallback, pool')
  })
})
