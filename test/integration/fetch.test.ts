import { Response as UndiciResponse, fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import type { AttemptEvent, BalancerOptions, EndpointInput } from '../../src/index.ts'
import { createFetch } from '../helpers/adapters.ts'
import { deferred } from '../helpers/deferred.ts'
import { adapterHarness, answer, totalRequests } from '../helpers/harness.ts'

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
  it('sends a web ReadableStream body once when it is answered 503', async () => {
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

  // Node's fetch dispatches with legacy handlers, undici's with current ones: a redirect is a
  // second exchange through the same attempt's dispatcher, and that one's body ends the attempt.
  for (const [name, client] of [
    ['Node’s global fetch', undefined],
    ['undici fetch', undiciFetch as unknown as typeof globalThis.fetch],
  ] as const) {
    it(`follows a redirect and ends the attempt with the final body (${name})`, async () => {
      const { fire: finish, fired: released } = deferred()
      const [backend] = await servers(1, (req, res) => {
        if (req.url === '/old') {
          res.writeHead(302, { location: '/new', 'content-length': '0' })
          res.end()
          return
        }
        res.write('first;')
        void released.then(() => res.end('last'))
      })
      const { balancer, fetch } = balanced([backend!.url], {}, client === undefined ? {} : { fetch: client })
      const res = await fetch('/old')
      expect(res.redirected).toBe(true)
      const reader = res.body!.getReader()
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('first;')
      expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
      const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
      finish()
      let rest = ''
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        rest += new TextDecoder().decode(chunk.value)
      }
      expect(rest).toBe('last')
      expect((await ended).verdict).toBe('success')
      expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
      expect(backend!.requests.map((r) => r.url)).toEqual(['/old', '/new'])
    })
  }

  it('ends the attempt as cancelled when the caller cancels the body', async () => {
    const [backend] = await servers(1, (_req, res) => res.write('partial'))
    const { balancer, fetch } = balanced([backend!.url])
    const res = await fetch('/slow')
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    await res.body!.cancel()
    expect((await ended).verdict).toBe('cancelled')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
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
})
