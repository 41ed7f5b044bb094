import { readFileSync } from 'node:fs'
import { get, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { httpCheck, UnexpectedStatusError } from '../../src/ejection/health/http-check.ts'
import { tcpCheck } from '../../src/ejection/health/tcp-check.ts'
import { Balancer, type BalancerOptions, parseEndpoint } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { flush } from '../helpers/clock.ts'
import { trackSockets } from '../helpers/live-sockets.ts'
import { trackTimers } from '../helpers/live-timers.ts'
import { closedPort, startServer, startServers, type TestServer } from '../helpers/servers.ts'

const cleanups = cleanupsAfterEach()

function balancerOf(options: BalancerOptions): Balancer {
  const balancer = new Balancer(options)
  cleanups.push(() => balancer.close())
  return balancer
}

async function servers(n: number, handler?: (req: IncomingMessage, res: ServerResponse) => void) {
  const list = await startServers(n, handler)
  for (const s of list) cleanups.push(() => s.close())
  return list
}

/** Resolves (with `performance.now()`) on the next `event` about endpoint `id`. */
function next(balancer: Balancer, event: 'healthy' | 'unhealthy' | 'ejected', id: string) {
  return new Promise<{ at: number; reason?: string }>((resolve) => {
    const listener = (payload: { endpoint: { id: string }; reason?: string }) => {
      if (payload.endpoint.id !== id) return
      balancer.off(event, listener)
      resolve({ at: performance.now(), ...(payload.reason === undefined ? {} : { reason: payload.reason }) })
    }
    balancer.on(event, listener)
  })
}

/** A GET on a fresh connection (no pooled socket outlives it). */
function fetchStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    }).once('error', reject)
  })
}

/** `n` calls through the balancer, each a GET of `path` on the picked endpoint; returns the ids. */
async function traffic(balancer: Balancer, n: number, path = '/data'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    ids.push(
      await balancer.call(async (endpoint) => {
        const status = await fetchStatus(endpoint.resolve(path))
        if (status !== 200) throw new Error(`status ${status}`)
        return endpoint.id
      }),
    )
  }
  return ids
}

describe('active health checks against real servers', () => {
  it('marks a stopped backend unhealthy and has it back in rotation ≤ 1 s after it listens again', async () => {
    const [a, b, c] = (await servers(3)) as [TestServer, TestServer, TestServer]
    const ids = [a, b, c].map((s) => s.url)
    const balancer = balancerOf({ endpoints: ids, picker: 'round-robin', healthCheck: { interval: 250 } })
    await Promise.all(ids.map((id) => next(balancer, 'healthy', id)))
    expect(new Set(await traffic(balancer, 6))).toEqual(new Set(ids))

    const down = next(balancer, 'ejected', b.url)
    const stoppedAt = performance.now()
    await b.close()
    const ejected = await down
    console.log(`unhealthy after ${Math.round(ejected.at - stoppedAt)} ms (interval 250, unhealthyThreshold 3)`)
    expect(ejected.reason).toMatch(/^http check failed 3 times in a row: .*ECONNREFUSED/)
    expect(balancer.snapshot().endpoints.find((e) => e.id === b.url)?.state).toBe('unhealthy')
    expect(await traffic(balancer, 10)).not.toContain(b.url)

    const up = next(balancer, 'healthy', b.url)
    await b.restart()
    const listeningAt = performance.now()
    const back = (await up).at - listeningAt
    console.log(`back in rotation after ${Math.round(back)} ms (interval 250, healthyThreshold 2)`)
    expect(back).toBeLessThanOrEqual(1_000)
    expect(await traffic(balancer, 6)).toContain(b.url)
  })

  it('fails a tcp check against a closed port and passes one against a listening port', async () => {
    const [live] = (await servers(1)) as [TestServer]
    const port = await closedPort()
    const open = `127.0.0.1:${live.port}`
    const closed = `127.0.0.1:${port}`
    const balancer = balancerOf({ endpoints: [open, closed], healthCheck: { type: 'tcp', interval: 250 } })
    const [healthy, ejected] = await Promise.all([
      next(balancer, 'healthy', `tcp://${open}`),
      next(balancer, 'ejected', `tcp://${closed}`),
    ])
    expect(healthy.at).toBeGreaterThan(0)
    expect(ejected.reason).toMatch(/^first tcp check failed: .*ECONNREFUSED/)
    const states = Object.fromEntries(balancer.snapshot().endpoints.map((e) => [e.id, e.state]))
    expect(states).toEqual({ [`tcp://${open}`]: 'active', [`tcp://${closed}`]: 'unhealthy' })
    // A tcp check connects and closes: the server never sees a request.
    expect(live.requests).toEqual([])
  })

  it('sends no traffic to a backend whose check path answers 500 while its data path answers 200', async () => {
    const handler = (sick: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = sick && req.url === '/svc/health' ? 500 : 200
      res.end(req.url)
    }
    const [a, b] = (await servers(2, handler(false))) as [TestServer, TestServer]
    const [sick] = (await servers(1, handler(true))) as [TestServer]
    const urls = [a, b, sick].map((s) => `${s.url}/svc`)
    const balancer = balancerOf({
      endpoints: urls,
      picker: 'round-robin',
      healthCheck: { interval: 250, headers: { 'x-probe': 'keel' } },
    })
    const [, , ejected] = await Promise.all([
      next(balancer, 'healthy', urls[0]!),
      next(balancer, 'healthy', urls[1]!),
      next(balancer, 'ejected', urls[2]!),
    ])
    expect(ejected.reason).toBe('first http check failed: status 500, expected 200-399')
    expect(await traffic(balancer, 30)).not.toContain(urls[2])
    expect(sick.requests.filter((r) => r.url === '/svc/data')).toEqual([])
    // The check used the endpoint's prefix and the configured headers.
    expect(sick.requests[0]).toMatchObject({ method: 'GET', url: '/svc/health', headers: { 'x-probe': 'keel' } })
    // Its data path still works: only the check keeps it out.
    expect(await fetchStatus(`${sick.url}/svc/data`)).toBe(200)
  })

  it('leaves no check timer or socket behind after close(), even with a check in flight', async () => {
    const sockets = trackSockets()
    sockets.start()
    cleanups.push(() => sockets.stop())
    let arrived!: () => void
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve
    })
    // The check path never answers: the check is in flight when the balancer closes.
    const [server] = (await servers(1, (req, res) => {
      if (req.url === '/health') arrived()
      else res.end('ok')
    })) as [TestServer]
    const timers = trackTimers()
    timers.start()
    cleanups.push(() => timers.stop())
    const balancer = new Balancer({ endpoints: [server.url], healthCheck: { interval: 250, timeout: 5_000 } })
    await inFlight
    expect(sockets.live()).toBe(1)
    await balancer.close()
    await flush()
    expect(sockets.created()).toBe(1)
    expect(sockets.live()).toBe(0)
    expect(timers.live(), timers.where()).toBe(0)
  })
})

describe('the http and tcp checks', () => {
  const cert = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url))
  const key = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url))

  async function tlsServer(status: number) {
    const seen: { servername: string | false | null; host: string | undefined; url: string | undefined }[] = []
    const server = createHttpsServer({ cert, key }, (req, res) => {
      seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host, url: req.url })
      res.statusCode = status
      res.end('x'.repeat(100_000))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    )
    return { port: (server.address() as AddressInfo).port, seen }
  }

  it('dials the IP but uses servername for SNI, certificate verification and Host', async () => {
    const { port, seen } = await tlsServer(204)
    const check = httpCheck({ path: '/health', headers: {}, expectedStatus: [200, 299], tls: { ca: cert } })
    const endpoint = parseEndpoint({ url: `https://127.0.0.1:${port}/api`, servername: 'health.keel.test' })
    await expect(check(endpoint, new AbortController().signal)).resolves.toBe(true)
    expect(seen).toEqual([{ servername: 'health.keel.test', host: `health.keel.test:${port}`, url: '/api/health' }])
    const wrong = parseEndpoint({ url: `https://127.0.0.1:${port}`, servername: 'other.keel.test' })
    await expect(check(wrong, new AbortController().signal)).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    })
  })

  it('fails on a status outside expectedStatus after reading the body', async () => {
    const { port } = await tlsServer(503)
    const check = httpCheck({ path: '/health', headers: {}, expectedStatus: [200, 399], tls: { ca: cert } })
    const endpoint = parseEndpoint({ url: `https://127.0.0.1:${port}`, servername: 'health.keel.test' })
    const error = await check(endpoint, new AbortController().signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnexpectedStatusError)
    expect((error as UnexpectedStatusError).status).toBe(503)
  })

  it('stops a check when its signal aborts and settles only once its socket is closed', async () => {
    const sockets = trackSockets()
    sockets.start()
    cleanups.push(() => sockets.stop())
    let arrived!: () => void
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const server = await startServer(() => arrived())
    cleanups.push(() => server.close())
    const controller = new AbortController()
    const check = httpCheck({ path: '/health', headers: {}, expectedStatus: [200, 399] })
    const result = check(parseEndpoint(server.url), controller.signal)
    await inFlight
    const reason = new Error('stop')
    controller.abort(reason)
    await expect(result).rejects.toBe(reason)
    await flush()
    expect(sockets.live()).toBe(0)
    const tcp = tcpCheck()
    await expect(tcp(parseEndpoint(`127.0.0.1:${server.port}`), controller.signal)).rejects.toBe(reason)
  })
})
