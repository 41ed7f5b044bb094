import http from 'node:http'
import https from 'node:https'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { BalancerAgent, HttpsBalancerAgent } from '../../src/adapters/http-agent/index.ts'
import { Balancer } from '../../src/index.ts'
import { agentHarness } from '../helpers/agent-harness.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { trackSockets } from '../helpers/live-sockets.ts'
import { closedPort } from '../helpers/servers.ts'

const { servers, observe, cleanups, balanced } = agentHarness()

function get(url: string, options: http.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve(text))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function sockets() {
  const tracker = trackSockets()
  tracker.start()
  cleanups.push(() => tracker.stop())
  return tracker
}

describe('BalancerAgent lifecycle', () => {
  it('closes an endpoint’s keep-alive sockets when it finishes draining', async () => {
    const live = sockets()
    const backends = await servers(3)
    const { balancer, agent } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 6; i++) expect(await get('http://users.internal/', { agent })).toBe('ok')
    expect(live.live()).toBe(3)
    balancer.remove(backends[0]!.url)
    await live.droppedTo(2)
    for (let i = 0; i < 6; i++) expect(await get('http://users.internal/', { agent })).toBe('ok')
    expect(backends.map((s) => s.requests.length)).toEqual([2, 5, 5])
  })

  it('destroy() and Symbol.dispose close every socket; the agent keeps working after, as node:http’s does', async () => {
    const live = sockets()
    const backends = await servers(2)
    const { agent } = balanced(backends.map((s) => s.url))
    for (let i = 0; i < 4; i++) expect(await get('http://users.internal/', { agent })).toBe('ok')
    expect(live.live()).toBeGreaterThan(0)
    agent.destroy()
    await live.drained()
    expect(await get('http://users.internal/', { agent })).toBe('ok')
    agent[Symbol.dispose]()
    await live.drained()
  })

  it('queues past maxSockets per endpoint and re-sends a queued request whose connect was refused', async () => {
    const backends = await servers(2)
    const dead = await closedPort()
    const { agent, attempts } = balanced(
      [...backends.map((s) => s.url), `http://127.0.0.1:${dead}`],
      { picker: 'round-robin' },
      { maxSockets: 1 },
    )
    const result = await closedLoop(90, 8, async (i) => {
      expect(await get(`http://users.internal/${i}`, { agent })).toBe('ok')
    })
    expect(result).toEqual({ ok: 90, errors: [] })
    expect(backends.map((s) => s.connections)).toEqual([1, 1])
    const refused = attempts.filter((a) => a.verdict === 'not-sent')
    expect(refused.length).toBeGreaterThanOrEqual(1)
    for (const a of refused) expect([a.endpoint.port, a.retried]).toEqual([dead, true])
  })

  it('gives the caller the last refusal when every endpoint refuses', async () => {
    const dead = [await closedPort(), await closedPort()]
    const { agent, attempts } = balanced(
      dead.map((p) => `http://127.0.0.1:${p}`),
      { retry: { retries: 1 } },
    )
    const error = await get('http://users.internal/', { agent }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('ECONNREFUSED')
    expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'not-sent'])
  })

  it('ends a request past the attempt timeout with keel’s error, and counts it against the endpoint', async () => {
    const [silent] = await servers(1, () => {})
    const { agent, attempts, settled } = balanced([silent!.url], { attemptTimeout: 100, retry: false })
    const error = await get('http://users.internal/', { agent }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('KEEL_ATTEMPT_TIMEOUT')
    await settled(1)
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure'])
  })

  it('cancels the attempt of a request the caller aborts', async () => {
    const [silent] = await servers(1, () => {})
    const { agent, attempts, settled } = balanced([silent!.url])
    const controller = new AbortController()
    const pending = get('http://users.internal/', { agent, signal: controller.signal }).catch((e: unknown) => e)
    await new Promise<void>((resolve) => silent!.handle(() => resolve()))
    controller.abort()
    expect(((await pending) as Error).name).toBe('AbortError')
    await settled(1)
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled'])
  })

  it('cancels the attempt of a response the caller destroys half-way; a backend cutting it is a failure', async () => {
    const [backend] = await servers(1, (req, res) => {
      res.write('first chunk')
      if (req.url === '/cut') res.socket?.destroy()
    })
    const { agent, attempts, settled } = balanced([backend!.url])
    await new Promise<void>((resolve) => {
      const req = http.get('http://users.internal/slow', { agent }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', () => {})
    })
    await settled(1)
    const cut = await new Promise<unknown>((resolve) => {
      http
        .get('http://users.internal/cut', { agent }, (res) => {
          res.on('error', resolve)
          res.resume()
        })
        .on('error', resolve)
    })
    expect((cut as { code?: string }).code).toBe('ECONNRESET')
    await settled(2)
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled', 'endpoint-failure'])
  })

  it('drops the connection being opened when the caller destroys the request, as node:http would', async () => {
    // Accepts TCP and never answers the TLS handshake: the connection stays "being opened".
    const accepted: Socket[] = []
    const mute = createServer((socket) => accepted.push(socket))
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      for (const socket of accepted) socket.destroy()
      return new Promise<void>((resolve) => mute.close(() => resolve()))
    })
    const { balancer, attempts, settled } = observe([`https://127.0.0.1:${(mute.address() as AddressInfo).port}`])
    const agent = new HttpsBalancerAgent(balancer)
    cleanups.push(() => agent.destroy())
    const reached = new Promise<void>((resolve) => mute.once('connection', () => resolve()))
    const req = https.request('https://users.internal/', { agent })
    const outcome = new Promise<unknown>((resolve) => req.on('error', resolve))
    const closed = new Promise<void>((resolve) => req.on('close', resolve))
    req.end()
    await reached
    const gone = new Promise<void>((resolve) => accepted[0]!.once('close', resolve))
    req.destroy(new Error('mine'))
    expect(((await outcome) as Error).message).toBe('mine')
    await closed
    // The half-open TLS connection is closed, not left to time out.
    await gone
    await settled(1)
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled'])
  })

  it('refuses to re-send a written head to an endpoint with another path prefix', async () => {
    const [live] = await servers(1)
    const dead = await closedPort()
    const { agent } = balanced([
      { url: `http://127.0.0.1:${dead}/a`, priority: 0 },
      { url: `${live!.url}/b`, priority: 1 },
    ])
    const error = await get('http://users.internal/x', { agent }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('KEEL_HTTP_PATH_PREFIX')
    expect(live!.requests).toEqual([])
  })

  it('classifies a 429 by its Retry-After; a classify sees the response head, never its body', async () => {
    const backends = await servers(2)
    backends[0]!.handle((req, res) => {
      req.resume()
      res.writeHead(429, 'Too Many Requests', { 'retry-after': '30' }).end('slow down')
    })
    const seen: string[] = []
    const { balancer, agent, attempts, settled } = balanced(
      backends.map((s) => s.url),
      {
        picker: 'round-robin',
        classify: (outcome) => {
          if (!outcome.ok) return undefined
          const value = outcome.value as { headers: { get(name: string): unknown } }
          seen.push(`${value.headers.get('retry-after')} ${JSON.stringify(value)}`)
          return undefined
        },
      },
    )
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          http
            .get('http://users.internal/', { agent }, (res) => {
              res.resume()
              res.on('end', () => resolve(res.statusCode ?? 0))
            })
            .on('error', reject)
        }),
      )
    }
    await settled(6)
    // Round-robin reaches the 429 backend within two requests; the caller got its 429 (keel never
    // re-sends a request handed over) and the endpoint then rests for the 30 s it asked.
    expect(statuses.indexOf(429)).toBeLessThan(2)
    expect(statuses.filter((s) => s === 429)).toHaveLength(1)
    expect(backends[0]!.requests.length).toBe(1)
    expect(attempts.map((a) => a.verdict)).toEqual(statuses.map((s) => (s === 429 ? 'overloaded' : 'success')))
    expect(seen).toHaveLength(6)
    expect(seen[statuses.indexOf(429)]).toBe('30 {"status":429,"statusText":"Too Many Requests","url":""}')
    expect(balancer.snapshot().endpoints.find((e) => e.id === backends[0]!.url)?.state).toBe('ejected')
  })

  it('routes by routingKey with a hash picker', async () => {
    const backends = await servers(3)
    const { agent } = balanced(
      backends.map((s) => s.url),
      { picker: 'ring-hash' },
      { routingKey: (req) => req.getHeader('x-user') as string },
    )
    for (let i = 0; i < 12; i++) {
      await get('http://users.internal/', { agent, headers: { 'x-user': `u${i % 3}` } })
    }
    for (const user of ['u0', 'u1', 'u2']) {
      const hit = backends.filter((s) => s.requests.some((r) => r.headers['x-user'] === user))
      expect(hit).toHaveLength(1)
    }
  })

  it('validates its arguments with messages that name them', () => {
    expect(() => new BalancerAgent({} as never)).toThrow('Expected `balancer` to be a keel Balancer, got')
    const balancer = new Balancer({ endpoints: ['127.0.0.1:1'] })
    cleanups.push(() => balancer.close())
    expect(() => new HttpsBalancerAgent(balancer, { routingKey: 'user' as never })).toThrow(
      'Expected `routingKey` to be a function, got',
    )
    expect(() => new BalancerAgent(balancer, 3 as never)).toThrow('Expected `options` to be an object')
  })
})
