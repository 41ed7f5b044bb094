// The adapters' default idle limits (docs/reliability.md): an attempt on a replica that accepts
// the request and never answers is lost and retried, and a long download that keeps sending is
// never cut. Real servers on 127.0.0.1, small limits so the test stays short.
import axios from 'axios'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { idleTimeouts } from '../../src/adapters/http/timeouts.ts'
import type { Balancer } from '../../src/index.ts'
import { axiosAdapter, BalancerDispatcher, createFetch } from '../helpers/adapters.ts'
import { adapterHarness } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness()

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
      'axios',
      (b, ms) => {
        const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(b, { idleTimeout: ms }) })
        return async () => (await api.get('/x', { responseType: 'arraybuffer' })).status
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

  it('are 15 s by default, and 0 turns them off', () => {
    expect(idleTimeouts({})).toEqual({ headersTimeout: 15_000, bodyTimeout: 15_000 })
    expect(idleTimeouts({ headersTimeout: 0 })).toEqual({ headersTimeout: 0, bodyTimeout: 15_000 })
    expect(() => idleTimeouts({ bodyTimeout: -1 })).toThrow(/bodyTimeout/)
  })
})
