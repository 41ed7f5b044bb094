// Regressions from the failure drills (docs/reliability.md), against real servers on 127.0.0.1:
// what each adapter does when a replica answers garbage, stalls, or sends a large 500.

import type { AddressInfo } from 'node:net'
import { createServer, type Server, type Socket } from 'node:net'
import axios from 'axios'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { axiosAdapter, BalancerDispatcher, createFetch } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { adapterHarness } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness()
const cleanups = cleanupsAfterEach()

/** A TCP server that answers every request with `reply` (raw bytes) and closes. */
async function rawServer(reply: string): Promise<{ url: string; port: number }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.once('data', () => socket.end(reply))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, port }
}

const MALFORMED: [string, string][] = [
  ['garbage bytes', 'garbage\x00\x01 not http at all\r\n\r\n'],
  ['an invalid status line', 'HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok'],
  ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok'],
  ['a 70 KB header', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\nContent-Length: 2\r\n\r\nok`],
]

type Get = (balancer: import('../../src/index.ts').Balancer<unknown>) => () => Promise<number>
const ADAPTERS: [string, Get][] = [
  [
    'createFetch',
    (b) => {
      const fetch = createFetch(b)
      return async () => {
        const res = await fetch('/x')
        await res.arrayBuffer()
        return res.status
      }
    },
  ],
  [
    'BalancerDispatcher',
    (b) => {
      const dispatcher = new BalancerDispatcher(b)
      return async () => {
        const res = await request('http://svc/x', { dispatcher })
        await res.body.arrayBuffer()
        return res.statusCode
      }
    },
  ],
  [
    'axios',
    (b) => {
      const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(b) })
      return async () => (await api.get('/x')).status
    },
  ],
]

describe('a reply that is not HTTP is an endpoint failure in every adapter', () => {
  for (const [adapter, make] of ADAPTERS) {
    for (const [what, reply] of MALFORMED) {
      it(`${adapter}: ${what} is retried on a healthy replica and counted against the broken one`, async () => {
        const bad = await rawServer(reply)
        const [good] = await servers(1)
        const { balancer, attempts } = observe([bad.url, good!.url], { picker: 'round-robin' })
        const get = make(balancer)
        const statuses = [await get(), await get()]
        expect(statuses).toEqual([200, 200])
        const onBad = attempts.filter((a) => a.endpoint.port === bad.port)
        expect(onBad.length).toBeGreaterThan(0)
        expect(onBad.map((a) => [a.verdict, a.retried])).toEqual(onBad.map(() => ['endpoint-failure', true]))
        expect(balancer.snapshot().endpoints.find((e) => e.id.endsWith(`:${bad.port}`))?.failures).toBe(onBad.length)
      })
    }
  }
})

describe('a 500 with a body over 64 KiB', () => {
  const BIG = 'e'.repeat(100 * 1024)
  const big500 = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(500, { 'content-type': 'text/plain' })
    res.end(BIG)
  }

  for (const [adapter, make] of ADAPTERS.slice(0, 2)) {
    it(`${adapter}: is discarded and the GET retried on another replica`, async () => {
      const [bad, good] = await servers(2)
      bad!.handle(big500)
      const { balancer, attempts } = observe([bad!.url, good!.url], { picker: 'round-robin' })
      const get = make(balancer)
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) statuses.push(await get())
      expect(statuses).toEqual(Array(10).fill(200))
      const onBad = attempts.filter((a) => a.endpoint.port === bad!.port)
      expect(onBad.length).toBeGreaterThan(0)
      expect(onBad.map((a) => [a.verdict, a.retried])).toEqual(onBad.map(() => ['endpoint-failure', true]))
    })
  }

  it('BalancerDispatcher: reaches the caller whole when keel does not retry it', async () => {
    const [bad] = await servers(1, big500)
    const { balancer } = observe([bad!.url], { retry: { shouldRetry: () => false } })
    const dispatcher = new BalancerDispatcher(balancer)
    const res = await request('http://svc/x', { dispatcher })
    expect(res.statusCode).toBe(500)
    expect((await res.body.text()).length).toBe(BIG.length)
  })
})
