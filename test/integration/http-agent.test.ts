import { readFileSync } from 'node:fs'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { HttpRequest } from '@smithy/protocol-http'
import got from 'got'
import nodeFetch from 'node-fetch'
import superagent from 'superagent'
import { describe, expect, it } from 'vitest'
import { BalancerAgent, HttpsBalancerAgent } from '../../src/adapters/http-agent/index.ts'
import { agentHarness } from '../helpers/agent-harness.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { deferred } from '../helpers/deferred.ts'
import { answer, totalRequests } from '../helpers/harness.ts'
import { trackSockets } from '../helpers/live-sockets.ts'
import { closedPort } from '../helpers/servers.ts'

// A certificate for `health.keel.test` (test/fixtures/tls), served on 127.0.0.1.
const TLS_CERT = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url))
const TLS_KEY = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url))

const { servers, observe, cleanups, balanced } = agentHarness()

interface Answer {
  status: number
  body: string
}

/** One `http.request` through `agent`, its body read whole. */
function send(
  url: string,
  options: http.RequestOptions,
  body?: Readable | string,
  transport: typeof http | typeof https = http,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body instanceof Readable) body.pipe(req)
    else req.end(body)
  })
}

function echo(req: IncomingMessage, res: http.ServerResponse) {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => res.end(Buffer.concat(chunks)))
}

const total = totalRequests

describe('BalancerAgent with the real clients', () => {
  it('http.request: every request is picked on its own, keeps its Host and gets the path prefix', async () => {
    const backends = await servers(3)
    const { agent, attempts } = balanced(
      backends.map((s) => `${s.url}/api`),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 30; i++) {
      expect(await send(`http://users.internal/users/${i}?x=1`, { agent })).toEqual({ status: 200, body: 'ok' })
    }
    // Round-robin per request over one keep-alive connection each: 10 requests per backend.
    expect(backends.map((s) => s.requests.length)).toEqual([10, 10, 10])
    expect(backends.map((s) => s.connections)).toEqual([1, 1, 1])
    const seen = backends.flatMap((s) => s.requests)
    expect(new Set(seen.map((r) => r.headers.host))).toEqual(new Set(['users.internal']))
    expect(seen.map((r) => r.url).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `/api/users/${i}?x=1`).sort())
    expect(attempts.every((a) => a.verdict === 'success')).toBe(true)
  })

  it('got, node-fetch and superagent reach all three backends', async () => {
    const backends = await servers(3)
    const { agent } = balanced(backends.map((s) => s.url))
    const viaGot = await closedLoop(30, 4, async (i) => {
      expect(await got(`http://users.internal/got/${i}`, { agent: { http: agent }, retry: { limit: 0 } }).text()).toBe(
        'ok',
      )
    })
    const viaNodeFetch = await closedLoop(30, 4, async (i) => {
      const res = await nodeFetch(`http://users.internal/node-fetch/${i}`, { agent })
      expect(await res.text()).toBe('ok')
    })
    const viaSuperagent = await closedLoop(30, 4, async (i) => {
      const res = await superagent.get(`http://users.internal/superagent/${i}`).agent(agent)
      expect(res.text).toBe('ok')
    })
    expect([viaGot, viaNodeFetch, viaSuperagent]).toEqual([
      { ok: 30, errors: [] },
      { ok: 30, errors: [] },
      { ok: 30, errors: [] },
    ])
    for (const client of ['got', 'node-fetch', 'superagent']) {
      for (const s of backends) expect(s.requests.some((r) => r.url.startsWith(`/${client}/`))).toBe(true)
    }
    expect(total(backends)).toBe(90)
  })

  it('the AWS SDK’s NodeHttpHandler reads whole bodies through it; a response nobody listens to is dumped', async () => {
    const backends = await servers(2)
    const { agent, settled } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const aws = new NodeHttpHandler({ httpAgent: agent })
    cleanups.push(() => aws.destroy())
    for (let i = 0; i < 4; i++) {
      const { response } = await aws.handle(
        new HttpRequest({ protocol: 'http:', hostname: 'users.internal', path: `/aws/${i}`, method: 'GET' }),
      )
      let body = ''
      for await (const chunk of response.body as AsyncIterable<Buffer>) body += chunk
      expect([response.statusCode, body]).toEqual([200, 'ok'])
    }
    expect(backends.map((s) => s.requests.length)).toEqual([2, 2])
    // node:http dumps the body of a response without a listener: the attempt still ends.
    await new Promise<void>((resolve) => http.request('http://users.internal/', { agent }).on('close', resolve).end())
    await settled(5)
  })

  it('re-sends every request to a live backend once a killed one has no sockets left', async () => {
    const sockets = trackSockets()
    sockets.start()
    cleanups.push(() => sockets.stop())
    const backends = await servers(3)
    const victim = backends[1]!
    const { agent, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const client = got.extend({ agent: { http: agent }, retry: { limit: 0 } })
    for (let i = 0; i < 9; i++) expect(await client(`http://users.internal/before/${i}`).text()).toBe('ok')
    expect(sockets.live()).toBe(3)
    await victim.close()
    // The killed backend's keep-alive socket is gone on the client side too.
    await sockets.droppedTo(2)
    const result = await closedLoop(60, 4, async (i) => {
      expect(await client(`http://users.internal/after/${i}`).text()).toBe('ok')
    })
    expect(result).toEqual({ ok: 60, errors: [] })
    expect(victim.requests.length).toBe(3)
    const refused = attempts.filter((a) => a.verdict !== 'success')
    // Refused connects, each re-sent at once: one per request picked for the victim before the
    // first refusal ejected it (one refusal ejects), so at most the 4 in flight.
    expect(refused.length).toBeGreaterThanOrEqual(1)
    expect(refused.length).toBeLessThanOrEqual(4)
    for (const a of refused) expect([a.verdict, a.endpoint.port, a.retried]).toEqual(['not-sent', victim.port, true])
    expect(attempts).toHaveLength(9 + 60 + refused.length)
  })

  it('with got retrying, no request fails while a backend is killed under load', async () => {
    const backends = await servers(3)
    const victim = backends[1]!
    victim.handle((_req, res) => {
      if (victim.requests.length === 50) void victim.close()
      else res.end('ok')
    })
    const { agent, attempts } = balanced(backends.map((s) => s.url))
    const client = got.extend({ agent: { http: agent }, retry: { limit: 2, backoffLimit: 10, noise: 0 } })
    const result = await closedLoop(300, 8, async (i) => {
      expect(await client(`http://users.internal/item/${i}`).text()).toBe('ok')
    })
    expect(result).toEqual({ ok: 300, errors: [] })
    expect(victim.requests.length).toBe(50)
    const failed = attempts.filter((a) => a.verdict !== 'success')
    expect(failed.length).toBeGreaterThan(0)
    // What was in flight on the victim when it died (≤ 8), plus the connects it refused.
    expect(failed.length).toBeLessThanOrEqual(8 + 8)
    for (const a of failed) expect(a.endpoint.port).toBe(victim.port)
    expect(failed.every((a) => a.verdict === 'endpoint-failure' || a.verdict === 'not-sent')).toBe(true)
  })

  it('ejects a backend that answers 503; the caller sees each 503 it got, keel re-sends none', async () => {
    const backends = await servers(3)
    const sick = backends[2]!
    sick.handle(answer(503, 'down'))
    const { balancer, agent, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const statuses: number[] = []
    for (let i = 0; i < 60; i++) {
      const res = await got(`http://users.internal/x/${i}`, {
        agent: { http: agent },
        retry: { limit: 0 },
        throwHttpErrors: false,
      })
      statuses.push(res.statusCode)
    }
    // Five 503s in a row eject it (consecutiveFailures: 5); not one request was sent twice.
    expect(sick.requests.length).toBe(5)
    expect(statuses.filter((s) => s === 503)).toHaveLength(5)
    expect(total(backends)).toBe(60)
    expect(attempts.filter((a) => a.verdict === 'endpoint-failure').every((a) => !a.retried)).toBe(true)
    const state = balancer.snapshot().endpoints.find((e) => e.id === sick.url)
    expect(state?.state).toBe('ejected')
  })

  it('re-sends a streamed upload refused at connect, and never one whose first byte left', async () => {
    const [target] = await servers(1, echo)
    const dead = await closedPort()
    // The dead endpoint is the primary: the first attempt goes there and is refused.
    const { agent, attempts, settled } = balanced([
      { url: `http://127.0.0.1:${dead}`, priority: 0 },
      { url: target!.url, priority: 1 },
    ])
    const upload = Readable.from(['first,', 'second'])
    expect(await send('http://users.internal/upload', { agent, method: 'POST' }, upload)).toEqual({
      status: 200,
      body: 'first,second',
    })
    await settled(2)
    expect(attempts.map((a) => [a.verdict, a.endpoint.port])).toEqual([
      ['not-sent', dead],
      ['success', target!.port],
    ])

    const backends = await servers(3)
    const cut = deferred()
    backends[0]!.handle((req) => {
      // The first byte of the body arrived: cut the connection.
      req.once('data', () => {
        req.socket.destroy()
        cut.fire()
      })
    })
    const second = balanced([
      { url: backends[0]!.url, priority: 0 },
      { url: backends[1]!.url, priority: 1 },
      { url: backends[2]!.url, priority: 1 },
    ])
    const body = Readable.from(
      (async function* () {
        yield 'first,'
        await cut.fired
        yield 'second'
      })(),
    )
    const error = await send('http://users.internal/upload', { agent: second.agent, method: 'POST' }, body).catch(
      (e: unknown) => e,
    )
    // The write of the second chunk fails (EPIPE) or the read sees the reset (ECONNRESET).
    expect(['ECONNRESET', 'EPIPE']).toContain((error as { code?: string }).code)
    expect(backends.map((s) => s.requests.length)).toEqual([1, 0, 0])
    await second.settled(1)
    expect(second.attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
  })
})

describe('HTTPS by IP', () => {
  async function tlsServer() {
    const seen: { servername: string | false | null; host: string | undefined; url: string | undefined }[] = []
    const server = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
      seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host, url: req.url })
      res.end('secure')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    )
    return { seen, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` }
  }

  it('verifies the certificate for the endpoint servername and keeps the Host', async () => {
    const { seen, url } = await tlsServer()
    const { balancer } = observe([{ url, servername: 'health.keel.test' }])
    const agent = new HttpsBalancerAgent(balancer, { ca: TLS_CERT })
    cleanups.push(() => agent.destroy())
    expect(await send('https://users.internal/me', { agent }, undefined, https)).toEqual({
      status: 200,
      body: 'secure',
    })
    // got with the https agent, and a plain-http URL through BalancerAgent: TLS follows the endpoint.
    expect(await got('https://users.internal/got', { agent: { https: agent }, retry: { limit: 0 } }).text()).toBe(
      'secure',
    )
    const plain = new BalancerAgent(balancer, { ca: TLS_CERT })
    cleanups.push(() => plain.destroy())
    expect(await send('http://users.internal/plain', { agent: plain })).toEqual({ status: 200, body: 'secure' })
    expect(seen).toEqual([
      { servername: 'health.keel.test', host: 'users.internal', url: '/me' },
      { servername: 'health.keel.test', host: 'users.internal', url: '/got' },
      { servername: 'health.keel.test', host: 'users.internal', url: '/plain' },
    ])
  })

  it('without a servername, the Host name is the TLS name; a wrong one fails before any byte left', async () => {
    const { seen, url } = await tlsServer()
    const { balancer, attempts } = observe([url], { retry: { retries: 1 } })
    const agent = new HttpsBalancerAgent(balancer, { ca: TLS_CERT })
    cleanups.push(() => agent.destroy())
    expect(await send('https://health.keel.test/ok', { agent }, undefined, https)).toEqual({
      status: 200,
      body: 'secure',
    })
    const error = await send('https://users.internal/no', { agent }, undefined, https).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    expect(seen.map((s) => s.url)).toEqual(['/ok'])
    // Refused twice (one retry, on the only endpoint), never sent.
    expect(attempts.map((a) => a.verdict)).toEqual(['success', 'not-sent', 'not-sent'])
  })
})
