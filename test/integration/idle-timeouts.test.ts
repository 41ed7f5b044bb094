// The adapters' default idle limits (docs/reliability.md): an attempt on a replica that accepts
// the request and never answers is lost and retried, and a long download that keeps sending is
// never cut. Real servers on 127.0.0.1, small limits so the test stays short.
import { Agent, type ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import axios, { AxiosError } from 'axios'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { IdleTimeoutError } from '../../src/adapters/axios/index.ts'
import { idleTimeouts } from '../../src/adapters/http/timeouts.ts'
import { classifyError } from '../../src/classify/classify.ts'
import type { Balancer } from '../../src/index.ts'
import { axiosAdapter, BalancerDispatcher, createFetch } from '../helpers/adapters.ts'
import { ManualClock } from '../helpers/clock.ts'
import { adapterHarness } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness()

/** Resolves once `condition()` holds, checking once per event-loop turn (no timer). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}

describe('default idle limits end a stuck attempt without cutting a long one', () => {
  const LIMITS: [string, (b: Balancer<unknown>, ms: number) => () => Promise<number>][] = [
    [
      'createFetch',
      (b, ms) => {
        const fetch = createFetch(b, { headersTimeout: ms, bodyTimeout: ms })
        return async () => {
          const res = await fetch('/x')
          await res.arrayBuffer()
          return res.status
        }
      },
    ],
    [
      'BalancerDispatcher',
      (b, ms) => {
        const dispatcher = new BalancerDispatcher(b, { headersTimeout: ms, bodyTimeout: ms })
        return async () => {
          const res = await request('http://svc/x', { dispatcher })
          await res.body.arrayBuffer()
          return res.statusCode
        }
      },
    ],
    [
      // keel's per-endpoint agents: their sweep keeps the limit (idle-sweep.ts).
      'axios',
      (b, ms) => {
        const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(b, { idleTimeout: ms }) })
        return async () => (await api.get('/x', { responseType: 'arraybuffer' })).status
      },
    ],
    [
      // A request on its own agent: axios' `timeout` keeps it.
      'axios, on the request’s own agent',
      (b, ms) => {
        const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(b, { idleTimeout: ms }) })
        const httpAgent = new Agent({ keepAlive: true })
        return async () => (await api.get('/x', { responseType: 'arraybuffer', httpAgent })).status
      },
    ],
  ]

  for (const [adapter, make] of LIMITS) {
    it(`${adapter}: a GET on a replica that never answers is lost after the idle limit and retried`, async () => {
      const [hung, good] = await servers(2)
      hung!.handle(() => {}) // accepts the request, never answers
      const { balancer, attempts } = observe([hung!.url, good!.url], { picker: 'round-robin' })
      const get = make(balancer, 300)
      const started = performance.now()
      expect([await get(), await get()]).toEqual([200, 200])
      expect(performance.now() - started).toBeLessThan(5_000)
      const onHung = attempts.filter((a) => a.endpoint.port === hung!.port)
      expect(onHung.length).toBeGreaterThan(0)
      for (const a of onHung) {
        expect(a.verdict).toBe('endpoint-failure')
        expect(a.durationMs).toBeGreaterThanOrEqual(290)
      }
    })

    it(`${adapter}: a body that keeps sending is not cut, however long it lasts`, async () => {
      const [slow] = await servers(1, (_req, res) => {
        res.writeHead(200)
        let chunks = 0
        const timer = setInterval(() => {
          res.write('x')
          if (++chunks === 8) {
            clearInterval(timer)
            res.end()
          }
        }, 100)
        res.on('close', () => clearInterval(timer))
      })
      const { balancer, attempts } = observe([slow!.url])
      // An idle limit of 400 ms, a download of ~800 ms that never pauses longer than 100 ms.
      expect(await make(balancer, 400)()).toBe(200)
      expect(attempts.map((a) => a.verdict)).toEqual(['success'])
    })
  }

  it('axios: a body that stalls after its head is lost after the idle limit and the GET retried', async () => {
    const [stalled, good] = await servers(2)
    stalled!.handle((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 })
      res.write('x'.repeat(100)) // the rest never comes
    })
    const { balancer, attempts } = observe([stalled!.url, good!.url], { picker: 'round-robin' })
    const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(balancer, { idleTimeout: 300 }) })
    const statuses: number[] = []
    for (let i = 0; i < 2; i++) statuses.push((await api.get('/x', { responseType: 'arraybuffer' })).status)
    expect(statuses).toEqual([200, 200])
    const onStalled = attempts.filter((a) => a.endpoint.port === stalled!.port)
    expect(onStalled.length).toBeGreaterThan(0)
    expect(onStalled.map((a) => [a.verdict, a.retried])).toEqual(onStalled.map(() => ['endpoint-failure', true]))
  })
})

describe('axios: keel’s agents keep the idle limit by sweeping their busy sockets (on the balancer’s clock)', () => {
  /** An axios client over one replica whose handler the test gives, on a manual clock, no retries. */
  async function onClock(handler: (res: ServerResponse) => void, idleTimeout = 1_000) {
    const clock = new ManualClock()
    let received!: () => void
    const arrived = new Promise<void>((resolve) => (received = resolve))
    const [server] = await servers(1, (_req, res) => {
      handler(res)
      received()
    })
    const { balancer, attempts } = observe([server!.url], { clock, retry: false })
    const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(balancer, { idleTimeout }) })
    return { clock, api, attempts, arrived }
  }

  it('a request silent for the limit fails with IdleTimeoutError as the AxiosError’s cause, within 1¼ × the limit', async () => {
    const { clock, api, attempts, arrived } = await onClock(() => {}) // never answers
    const failed = api.get('/x').then(
      () => undefined,
      (error: unknown) => error,
    )
    await arrived
    // Sweeps every 250 ms: the first sees the socket (at 250), the fifth finds it silent for 1 000 ms.
    await clock.advance(1_000)
    expect(attempts).toEqual([])
    await clock.advance(250)
    const error = (await failed) as AxiosError
    expect(error).toBeInstanceOf(AxiosError)
    expect(error.cause).toBeInstanceOf(IdleTimeoutError)
    expect(error.cause).toMatchObject({ code: 'KEEL_IDLE_TIMEOUT', timeoutMs: 1_000 })
    expect(attempts.map((a) => [a.verdict, a.durationMs])).toEqual([['endpoint-failure', 1_250]])
  })

  it('bytes either way start the silence again: a body that keeps moving is not cut', async () => {
    let response!: ServerResponse
    const { clock, api, attempts, arrived } = await onClock((res) => {
      response = res
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('a')
    })
    const res = await api.get('/x', { responseType: 'stream' })
    await arrived
    const body = res.data as Readable
    const chunks: string[] = []
    body.on('data', (chunk: Buffer) => chunks.push(String(chunk)))
    const errors: unknown[] = []
    body.on('error', (error) => errors.push(error))
    const ended = new Promise((resolve) => body.once('close', resolve))
    await clock.advance(1_000) // seen at 250, silent since
    response.write('b')
    await until(() => chunks.join('').endsWith('b'))
    await clock.advance(250) // at 1 250: the bytes moved, silent from here
    await clock.advance(750)
    expect(body.destroyed).toBe(false)
    await clock.advance(250) // at 2 250: silent for 1 000 ms since it last moved
    await ended
    expect(chunks.join('')).toBe('ab')
    expect(errors).toHaveLength(1) // the download was cut
    await until(() => attempts.length === 1)
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure'])
  })

  it('a request with its own `timeout` is left to it', async () => {
    const { clock, api, arrived } = await onClock(() => {})
    const controller = new AbortController()
    const pending = api.get('/x', { timeout: 60_000, signal: controller.signal }).then(
      () => 'answered',
      (error: AxiosError) => error.code,
    )
    await arrived
    await clock.advance(10_000)
    controller.abort()
    expect(await pending).toBe('ERR_CANCELED')
  })

  it('an idle limit hit while connecting is not-sent; after, an endpoint failure', () => {
    expect(classifyError(new IdleTimeoutError(1_000, true), Date.now)).toBe('not-sent')
    expect(classifyError(new IdleTimeoutError(1_000, false), Date.now)).toBe('endpoint-failure')
  })
})

describe('idle limit options', () => {
  it('are 15 s by default, and 0 turns them off', () => {
    expect(idleTimeouts({})).toEqual({ headersTimeout: 15_000, bodyTimeout: 15_000 })
    expect(idleTimeouts({ headersTimeout: 0 })).toEqual({ headersTimeout: 0, bodyTimeout: 15_000 })
    expect(() => idleTimeouts({ bodyTimeout: -1 })).toThrow(/bodyTimeout/)
  })
})
