import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer, Agent as HttpsAgent } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import axios, { AxiosError, type AxiosInstance, type CreateAxiosDefaults } from 'axios'
import FormData from 'form-data'
import { describe, expect, it } from 'vitest'
import type { BalancerOptions, EndpointInput } from '../../src/index.ts'
import { type AxiosAdapterOptions, axiosAdapter } from '../helpers/adapters.ts'
import { flush, ManualClock } from '../helpers/clock.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { deferred } from '../helpers/deferred.ts'
import { adapterHarness, answer, type Observed, totalRequests } from '../helpers/harness.ts'
import { trackSockets } from '../helpers/live-sockets.ts'
import { closedPort } from '../helpers/servers.ts'

// A certificate for `health.keel.test` (test/fixtures/tls), served on 127.0.0.1.
const TLS_CERT = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url))
const TLS_KEY = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url))

// Server keep-alive longer than the client agents' 5 s idle timeout, as production servers keep it.
const { servers, observe } = adapterHarness(10_000)

function balanced(
  endpoints: readonly EndpointInput[],
  options: BalancerOptions<never> = {},
  defaults: CreateAxiosDefaults = {},
  adapterOptions: AxiosAdapterOptions = {},
): Observed & { api: AxiosInstance } {
  const observed = observe(endpoints, options)
  const adapter = axiosAdapter(observed.balancer, adapterOptions)
  return { ...observed, api: axios.create({ baseURL: 'http://users.internal', ...defaults, adapter }) }
}

const total = totalRequests

describe('axiosAdapter', () => {
  it('sends a POST answered 503 once and rejects with the AxiosError', async () => {
    const backends = await servers(3, answer(503, 'busy'))
    const { api, attempts } = balanced(backends.map((s) => s.url))
    const error = await api.post('/orders', { item: 7 }).catch((e: unknown) => e)
    expect(axios.isAxiosError(error)).toBe(true)
    expect(error).toBeInstanceOf(AxiosError)
    const e = error as AxiosError<string>
    expect(e.code).toBe('ERR_BAD_RESPONSE')
    expect(e.response?.status).toBe(503)
    expect(e.response?.data).toBe('busy')
    // The caller's own config, as axios gives it: the logical URL, re-sendable through `api`.
    expect(e.config?.url).toBe('/orders')
    expect(e.config?.baseURL).toBe('http://users.internal')
    expect(total(backends)).toBe(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
  })

  it('retries a GET answered 503 on another backend and resolves with the 200', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503, 'down'))
    const { api, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 6; i++) expect((await api.get<string>('/')).data).toBe('ok')
    const retried = attempts.filter((a) => a.retried)
    expect(retried.length).toBeGreaterThan(0)
    for (const a of retried) expect([a.verdict, a.endpoint.port]).toEqual(['endpoint-failure', backends[0]!.port])
  })

  it('classifies a response its validateStatus accepts by its status, and retries a 503', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503, 'down'))
    const { api, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin', retry: { retries: 1 } },
      { validateStatus: () => true },
    )
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await api.get('/')).status)
    expect(statuses).toEqual([200, 200, 200, 200])
    expect(attempts.filter((a) => a.verdict === 'endpoint-failure').length).toBeGreaterThan(0)
    // With every backend failing, the last response resolves, as axios would with that validateStatus.
    backends[1]!.handle(answer(503, 'down too'))
    const last = await api.get<string>('/')
    expect([last.status, last.data]).toEqual([503, expect.stringContaining('down')])
  })

  it('retries a POST only with an Idempotency-Key or keel.idempotent', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503))
    const { api, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: AxiosError) => e.response?.status,
      )
    const plain = [await outcome(api.post('/orders', 'x')), await outcome(api.post('/orders', 'x'))]
    expect(plain.sort()).toEqual([200, 503])
    expect(await outcome(api.post('/orders', 'x', { headers: { 'Idempotency-Key': 'k1' } }))).toBe(200)
    expect(await outcome(api.post('/orders', 'x', { headers: { 'Idempotency-Key': 'k2' } }))).toBe(200)
    expect(await outcome(api.post('/orders', 'x', { keel: { idempotent: true } }))).toBe(200)
    expect(await outcome(api.post('/orders', 'x', { keel: { idempotent: true } }))).toBe(200)
    const retried = attempts.filter((a) => a.retried)
    expect(retried.length).toBeGreaterThanOrEqual(2)
    for (const a of retried) expect(a.endpoint.port).toBe(backends[0]!.port)
  })

  it('keeps the endpoint prefix and the baseURL path, and refuses URLs off the service', async () => {
    const [backend] = await servers(1)
    const { api } = balanced([`${backend!.url}/api`], {}, { baseURL: 'http://users.internal/v2' })
    await api.get('/users/42', { params: { fields: 'name' } })
    await api.get('users/43')
    await api.get('http://users.internal/v2/users/44')
    await api.get('http://users.internal/other/45')
    const offService = await api.get('http://elsewhere.example/users/46').catch((e: unknown) => e)
    expect(offService).toMatchObject({ isAxiosError: true, code: 'ERR_INVALID_URL' })
    expect(backend!.requests.map((r) => r.url)).toEqual([
      '/api/v2/users/42?fields=name',
      '/api/v2/users/43',
      '/api/v2/users/44',
      '/api/other/45',
    ])
    const { api: service } = balanced(
      [`${backend!.url}/api`],
      {},
      { baseURL: 'http://users.internal/v2' },
      { serviceUrl: 'http://users.internal/v2' },
    )
    await service.get('/users/47')
    expect(backend!.requests.at(-1)!.url).toBe('/api/users/47')
  })

  it('sets Host to the endpoint servername', async () => {
    const [backend] = await servers(1)
    const { api } = balanced([{ url: backend!.url, servername: 'users.internal' }])
    await api.get('/a')
    await api.get('/b', { headers: { Host: 'custom.example' } })
    await api.get('/c', { headers: { 'User-Agent': false } })
    expect(backend!.requests.map((r) => r.headers.host)).toEqual([
      `users.internal:${backend!.port}`,
      'custom.example',
      `users.internal:${backend!.port}`,
    ])
    // The copy keel makes to add Host keeps a header the request turned off.
    expect(backend!.requests.map((r) => r.headers['user-agent'])).toEqual([
      expect.stringMatching(/^axios\//),
      expect.stringMatching(/^axios\//),
      undefined,
    ])
  })

  it('sends a form-data body again after a refused connection, boundary header and all', async () => {
    const dead = await closedPort()
    const [live] = await servers(1, (req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c))
      req.on('end', () => res.end(JSON.stringify({ type: req.headers['content-type'], body })))
    })
    const { api, attempts } = balanced([`http://127.0.0.1:${dead}`, { url: live!.url, priority: 1 }])
    const form = new FormData()
    form.append('name', 'keel')
    form.append('file', Buffer.from('file contents'), { filename: 'a.txt' })
    const { data } = await api.post<{ type: string; body: string }>('/upload', form)
    const boundary = /boundary=(\S+)/.exec(data.type)?.[1]
    expect(data.type).toMatch(/^multipart\/form-data; boundary=/)
    expect(data.body).toContain(`--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nkeel\r\n`)
    expect(data.body).toContain('file contents')
    expect(data.body.endsWith(`--${boundary}--\r\n`)).toBe(true)
    expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'success'])
  })

  it('dials endpoints directly, past an environment proxy, unless the request sets one', async () => {
    const [backend] = await servers(1)
    const { api } = balanced([backend!.url])
    const saved = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy }
    process.env.http_proxy = `http://127.0.0.1:${await closedPort()}`
    process.env.no_proxy = ''
    try {
      expect((await api.get<string>('/direct')).data).toBe('ok')
      const viaProxy = await api
        .get('/proxied', { proxy: { host: '127.0.0.1', port: await closedPort() } })
        .catch((e) => e)
      expect(viaProxy).toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
    expect(backend!.requests.map((r) => r.url)).toEqual(['/direct'])
  })

  it('copies a config for each attempt without an own `__proto__` key, which would be its prototype', async () => {
    const [backend] = await servers(1)
    const { balancer } = observe([backend!.url])
    const keel = axiosAdapter(balancer)
    const api = axios.create({
      baseURL: 'http://users.internal',
      // axios drops such a key before its adapter (toSafeFlatObject); a wrapping adapter may add one.
      adapter: (config) => {
        const injected = { socketPath: '/nonexistent/keel.sock' }
        Object.defineProperty(config, '__proto__', {
          value: injected,
          enumerable: true,
          writable: true,
          configurable: true,
        })
        return keel(config)
      },
    })
    // As the copy's prototype it would be read as the request's own `socketPath` (axios' getSafeProp).
    expect((await api.get<string>('/copied')).data).toBe('ok')
    expect(backend!.requests.map((r) => r.url)).toEqual(['/copied'])
  })

  it('ends the call at once with axios’ CanceledError when the caller aborts', async () => {
    let arrived!: () => void
    const [backend] = await servers(1, () => arrived())
    const { balancer, api, settled } = balanced([backend!.url])
    const controller = new AbortController()
    let reached = new Promise<void>((resolve) => (arrived = resolve))
    const pending = api.get('/slow', { signal: controller.signal })
    await reached
    controller.abort()
    const error = await pending.catch((e: unknown) => e)
    expect(axios.isCancel(error)).toBe(true)
    expect((error as AxiosError).code).toBe('ERR_CANCELED')
    await settled(1)
    expect(balancer.snapshot().endpoints[0]).toMatchObject({ inFlight: 0, failures: 0 })

    const source = axios.CancelToken.source()
    reached = new Promise<void>((resolve) => (arrived = resolve))
    const viaToken = api.get('/slow', { cancelToken: source.token })
    await reached
    source.cancel('changed my mind')
    const cancelled = await viaToken.catch((e: unknown) => e)
    expect(axios.isCancel(cancelled)).toBe(true)
    expect((cancelled as Error).message).toBe('changed my mind')
    await settled(2)
    expect(balancer.snapshot().endpoints[0]).toMatchObject({ inFlight: 0, failures: 0 })
  })

  it('bounds each attempt with axios’ timeout and retries the GET elsewhere', async () => {
    const backends = await servers(2)
    backends[0]!.handle(() => {})
    const { api, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
      { timeout: 200 },
    )
    for (let i = 0; i < 3; i++) expect((await api.get<string>('/')).data).toBe('ok')
    const timedOut = attempts.filter((a) => a.verdict === 'endpoint-failure')
    expect(timedOut.length).toBeGreaterThan(0)
    for (const a of timedOut) expect([a.endpoint.port, a.retried]).toEqual([backends[0]!.port, true])
    // Every attempt timing out: the caller gets axios' own timeout error for the last one.
    const { api: hung, attempts: hungAttempts } = balanced([backends[0]!.url], {}, { timeout: 200 })
    const error = await hung.get('/').catch((e: unknown) => e)
    expect(error).toMatchObject({ isAxiosError: true, code: 'ECONNABORTED', message: 'timeout of 200ms exceeded' })
    expect(hungAttempts.map((a) => a.verdict)).toEqual(['endpoint-failure', 'endpoint-failure', 'endpoint-failure'])
  })

  it('closes its per-endpoint sockets when the balancer closes', async () => {
    const sockets = trackSockets()
    sockets.start()
    try {
      const backends = await servers(2)
      const { balancer, api } = balanced(backends.map((s) => s.url))
      await closedLoop(40, 4, async () => {
        await api.get('/')
      })
      expect(sockets.live()).toBeGreaterThan(0)
      await balancer.close()
      await flush()
      expect(sockets.live()).toBe(0)
    } finally {
      sockets.stop()
    }
  })

  it('renews an endpoint agent past maxConnectionAge without cutting its request in flight', async () => {
    const sockets = trackSockets()
    sockets.start()
    const clock = new ManualClock()
    const { fire: arrived, fired: reached } = deferred()
    const { fire: release, fired: released } = deferred()
    const [backend] = await servers(1, (req, res) => {
      if (req.url !== '/slow') return res.end('ok')
      arrived()
      void released.then(() => res.end('slow ok'))
    })
    // No idle limit: the slow request stays silent for the two minutes of clock time advanced below.
    const { api } = balanced([backend!.url], { clock, maxConnectionAge: 60_000 }, {}, { idleTimeout: 0 })
    const slow = api.get<string>('/slow')
    await reached
    await clock.advance(120_000)
    // A new agent (and connection) for the next request; the old one's request goes on.
    expect((await api.get<string>('/next')).data).toBe('ok')
    release()
    expect((await slow).data).toBe('slow ok')
    await flush()
    sockets.stop()
    // The renewed agent closed its socket once its response ended; the new agent keeps its own.
    expect([backend!.connections, sockets.created(), sockets.live()]).toEqual([2, 2, 1])
  })

  it('dials an https endpoint by IP and verifies its certificate for the servername', async () => {
    const seen: { servername: string | false | null; host: string | undefined; url: string | undefined }[] = []
    const server = createHttpsServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
      seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host, url: req.url })
      res.end('secure')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const url = `https://127.0.0.1:${port}/tls`
      const { api } = balanced(
        [{ url, servername: 'health.keel.test' }],
        { retry: false },
        {},
        { agent: { ca: TLS_CERT } },
      )
      expect((await api.get<string>('/me')).data).toBe('secure')
      // The caller's own agent: node:http takes the servername from the Host header keel sets.
      const own = new HttpsAgent({ ca: TLS_CERT, keepAlive: false })
      expect((await api.get<string>('/mine', { httpsAgent: own })).data).toBe('secure')
      expect(seen).toEqual([
        { servername: 'health.keel.test', host: `health.keel.test:${port}`, url: '/tls/me' },
        { servername: 'health.keel.test', host: `health.keel.test:${port}`, url: '/tls/mine' },
      ])
      const { api: wrong } = balanced(
        [{ url, servername: 'wrong.example' }],
        { retry: false },
        {},
        { agent: { ca: TLS_CERT } },
      )
      const error = await wrong.get('/me').catch((e: unknown) => e)
      expect(error).toMatchObject({ isAxiosError: true, code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
      expect(seen).toHaveLength(2)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
