import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { AttemptEvent, Balancer } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { closedLoop } from '../helpers/closed-loop.ts'
import { deferred } from '../helpers/deferred.ts'
import { adapterHarness, answer, totalRequests as total } from '../helpers/harness.ts'
import { closedPort, type TestServer } from '../helpers/servers.ts'
import { axiosDriver } from './adapters/axios-driver.ts'
import type { AdapterDriver } from './adapters/driver.ts'
import { fetchDriver } from './adapters/fetch-driver.ts'
import { undiciDriver } from './adapters/undici-driver.ts'

// What every HTTP adapter does the same way, run against each: the adapter-specific behaviour
// (its errors, options, URL rules) stays in the adapter's own file.
const DRIVERS: [string, AdapterDriver][] = [fetchDriver, undiciDriver, axiosDriver].map((d) => [d.name, d])

function echo(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => res.end(Buffer.concat(chunks)))
}

/**
 * An async source that yields each chunk on a later turn of the event loop, as a file or socket
 * does; chunks after the first wait for `gate` when one is given.
 */
function slowBody(tag: string, chunks: number, gate?: Promise<void>): { body: Readable; text: string } {
  const parts = Array.from({ length: chunks }, (_, i) => `${tag}.${i};`)
  async function* produce() {
    for (const [i, part] of parts.entries()) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (i > 0 && gate !== undefined) await gate
      yield Buffer.from(part)
    }
  }
  return { body: Readable.from(produce()), text: parts.join('') }
}

/** The i-th stream body of a run: two chunks ready at once, or twenty yielded one per turn. */
const STREAM_BODIES: [string, (i: number) => { body: Readable; text: string }][] = [
  [
    'ready at once',
    (i) => ({
      body: Readable.from([Buffer.from(`part-${i}-a;`), Buffer.from(`part-${i}-b`)]),
      text: `part-${i}-a;part-${i}-b`,
    }),
  ],
  ['yielding a chunk per event-loop turn', (i) => slowBody(String(i), 20)],
]

/** Servers, and balancers with `driver`'s client over them; all closed after each test. */
function harness(driver: AdapterDriver) {
  const { servers, observe } = adapterHarness(driver.keepAliveTimeout)
  const balanced = (...args: Parameters<typeof observe>) => {
    const observed = observe(...args)
    return { ...observed, client: driver.client(observed.balancer) }
  }
  return { servers, balanced }
}

/** Resolves when `balancer` ends its first attempt as `cancelled`. */
function firstCancelled(balancer: Balancer<unknown>): Promise<void> {
  return new Promise((resolve) => balancer.on('attempt', (a) => a.verdict === 'cancelled' && resolve()))
}

describe.each(DRIVERS)('%s adapter contract', (_name, driver) => {
  const { servers, balanced } = harness(driver)

  it('sends traffic to all three backends', async () => {
    const backends = await servers(3)
    const { client } = balanced(backends.map((s) => s.url))
    const result = await closedLoop(300, 8, async () => {
      expect(await client.get('/hello')).toEqual({ status: 200, body: 'ok' })
    })
    expect(result).toEqual({ ok: 300, errors: [] })
    expect(total(backends)).toBe(300)
    for (const s of backends) expect(s.requests.length).toBeGreaterThan(0)
  })

  it('loses no call when a backend is killed in the middle of 3,000 GETs at concurrency 16', async () => {
    const backends = await servers(3)
    const victim = backends[1]!
    // Killed while serving its 200th request: every connection to it is reset mid-flight.
    victim.handle((_req, res) => {
      if (victim.requests.length === 200) void victim.close()
      else res.end('ok')
    })
    const { balancer, client, attempts } = balanced(backends.map((s) => s.url))
    let probes = 0
    balancer.on('restored', (e) => {
      if (e.reason === 'probe') probes++
    })
    const result = await closedLoop(3_000, 16, async (i) => {
      expect(await client.get(`/item/${i}`)).toEqual({ status: 200, body: 'ok' })
    })
    expect(result.errors).toEqual([])
    expect(result.ok).toBe(3_000)
    expect(victim.requests.length).toBe(200)
    // The victim answered 199 (its handler is synchronous: only the 200th was in flight when it
    // died); every other call was answered exactly once by the two survivors.
    expect(backends[0]!.requests.length + backends[2]!.requests.length).toBe(3_000 - 199)
    const failed = attempts.filter((a) => a.verdict !== 'success')
    // Attempts to a killed backend ≤ the calls in flight when it died (16) + its first refused
    // connection, which ejects it at once (docs/outlier-detection.md, docs/demo.md) + what each
    // re-admission probe lets through before its refusal ejects it again (at most the 16 calls in
    // flight; a slow run sees more probes, ~1 s apart).
    expect(failed.length).toBeLessThanOrEqual(17 + 16 * probes)
    expect(failed.length).toBeGreaterThan(0)
    for (const a of failed) expect(a.endpoint.port).toBe(victim.port)
  })

  it('sends a PUT with a stream body once when it is answered 503', async () => {
    const backends = await servers(3, answer(503, 'busy'))
    const { balancer, client, attempts } = balanced(backends.map((s) => s.url))
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    const body = Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')])
    expect(await client.send('PUT', '/upload', body)).toEqual({ status: 503, body: 'busy' })
    // The 503 was handed over at once: its attempt ends with its body.
    expect(await ended).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    expect(total(backends)).toBe(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
  })

  it.each(STREAM_BODIES)(
    'retries a stream body %s that provably never left, and sends it whole',
    async (_label, make) => {
      const dead = await closedPort()
      const [live] = await servers(1, echo)
      const { client, attempts } = balanced([`http://127.0.0.1:${dead}`, live!.url], { picker: 'round-robin' })
      for (let i = 0; i < 4; i++) {
        const { body, text } = make(i)
        expect(await client.send('POST', '/upload', body)).toEqual({ status: 200, body: text })
      }
      expect(live!.requests.length).toBe(4)
      expect(attempts.filter((a) => a.verdict === 'not-sent').length).toBeGreaterThan(0)
    },
  )

  it('returns a 404 to the caller without retrying it or ejecting anything', async () => {
    const backends = await servers(3, answer(404, 'no such user'))
    const { balancer, client, attempts, settled } = balanced(backends.map((s) => s.url))
    for (let i = 0; i < 30; i++) {
      expect(await client.get(`/users/${i}`)).toEqual({ status: 404, body: 'no such user' })
    }
    expect(total(backends)).toBe(30)
    await settled(30)
    expect(attempts).toHaveLength(30)
    expect(attempts.every((a) => a.verdict === 'caller-error' && !a.retried)).toBe(true)
    for (const endpoint of balancer.snapshot().endpoints) {
      expect(endpoint.state).toBe('active')
      expect(endpoint.failures).toBe(0)
      expect(endpoint.ejections).toBe(0)
    }
  })

  it('releases the 503s it retries so their sockets are reused', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503, 'down '.repeat(1_000)))
    const { client, attempts } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    for (let i = 0; i < 10; i++) {
      const res = await client.open('/')
      expect(res.status).toBe(200)
      expect(await res.rest()).toBe('ok')
    }
    expect(attempts.filter((a) => a.verdict === 'endpoint-failure' && a.retried).length).toBeGreaterThanOrEqual(5)
    // A 503 body left unread would pin its socket and force a new connection per request.
    expect(backends[0]!.connections).toBe(1)
  })

  it('retries a POST only with an Idempotency-Key', async () => {
    const backends = await servers(2)
    backends[0]!.handle(answer(503))
    const { client, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { picker: 'round-robin' },
    )
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await client.send('POST', '/orders', 'order')).status)
    expect(statuses).toContain(503)
    await settled(4)
    expect(attempts).toHaveLength(4)
    expect(attempts.every((a) => !a.retried)).toBe(true)
    for (let i = 0; i < 4; i++) {
      const res = await client.send('POST', '/orders', 'order', { 'Idempotency-Key': `order-${i}` })
      expect(res.status).toBe(200)
    }
  })

  it('hedges a slow GET and cancels the attempt that loses', async () => {
    const clock = new ManualClock()
    const { fire: arrived, fired: reached } = deferred()
    const backends = await servers(2)
    const [slow, fast] = backends as [TestServer, TestServer]
    slow.handle(() => arrived())
    const { balancer, client, attempts, settled } = balanced([slow.url, { url: fast.url, priority: 1 }], {
      clock,
      hedge: { delay: 50 },
    })
    let hedges = 0
    balancer.on('hedge', () => hedges++)
    const pending = client.get('/report')
    await reached
    await clock.advance(50)
    expect(await pending).toEqual({ status: 200, body: 'ok' })
    await settled(2)
    expect(hedges).toBe(1)
    const ended = attempts.map((a) => [a.endpoint.port, a.verdict])
    expect(ended.sort()).toEqual(
      [
        [fast.port, 'success'],
        [slow.port, 'cancelled'],
      ].sort(),
    )
  })

  it('keeps streaming the response it handed over when a hedge answers later', async () => {
    const hedgeArrived = deferred()
    const firstSeen = deferred()
    const finishFirst = deferred()
    let seen = 0
    const backends = await servers(2, (_req, res) => {
      if (++seen === 1) {
        // The first attempt answers once the hedge is out, then streams until the test says.
        void hedgeArrived.fired.then(() => res.write('part-1;'))
        void finishFirst.fired.then(() => res.end('part-2'))
      } else {
        hedgeArrived.fire()
        // The hedge answers only after the caller holds the first response.
        void firstSeen.fired.then(() => res.end('hedge'))
      }
    })
    const { balancer, client, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { hedge: { delay: 30 } },
    )
    const lost = firstCancelled(balancer)
    const res = await client.open('/report')
    expect(res.status).toBe(200)
    firstSeen.fire()
    await lost
    finishFirst.fire()
    expect(await res.rest()).toBe('part-1;part-2')
    await settled(2)
    expect(attempts.map((a) => a.verdict).sort()).toEqual(['cancelled', 'success'])
    expect(total(backends)).toBe(2)
  })

  it('sends no hedge while a response it handed over is still streaming', async () => {
    const clock = new ManualClock()
    const finish = deferred()
    const backends = await servers(2, (_req, res) => {
      res.write('part-1;')
      void finish.fired.then(() => res.end('part-2'))
    })
    const { balancer, client, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { clock, hedge: { delay: 30 } },
    )
    const hedgeDropped = firstCancelled(balancer)
    const res = await client.open('/report')
    expect(res.status).toBe(200)
    // The hedge delay passes on keel's clock only now, with the response in the caller's hands.
    await clock.advance(30)
    await hedgeDropped
    finish.fire()
    expect(await res.rest()).toBe('part-1;part-2')
    await settled(2)
    expect(attempts.map((a) => a.verdict).sort()).toEqual(['cancelled', 'success'])
    expect(total(backends)).toBe(1)
  })

  it('counts a streaming download in flight until its body ends', async () => {
    const { fire: finish, fired: released } = deferred()
    const [backend] = await servers(1, (_req, res) => {
      res.write('first;')
      void released.then(() => res.end('last'))
    })
    const { balancer, client, attempts } = balanced([backend!.url])
    const res = await client.open('/download')
    expect(await res.next()).toBe('first;')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    expect(attempts).toEqual([])
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    finish()
    expect(await res.rest()).toBe('last')
    expect((await ended).verdict).toBe('success')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('rejects with the last error when no backend answers', async () => {
    const { client, attempts } = balanced([`http://127.0.0.1:${await closedPort()}`])
    driver.expectRefused(await client.get('/').catch((e: unknown) => e))
    expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'not-sent', 'not-sent'])
  })

  it('routes requests with the same key to the same backend with ring-hash', async () => {
    const backends = await servers(3)
    const { client } = balanced(
      backends.map((s) => s.url),
      { picker: 'ring-hash' },
    )
    const users = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6']
    for (let round = 0; round < 3; round++) {
      for (const key of users) await client.get(`/profile/${key}`, { key })
    }
    const served = new Map<string, Set<number>>()
    for (const [i, s] of backends.entries()) {
      for (const r of s.requests) {
        const key = r.url.split('/').pop()!
        served.set(key, (served.get(key) ?? new Set()).add(i))
      }
    }
    expect([...served.keys()].sort()).toEqual(users)
    for (const backendsOfKey of served.values()) expect(backendsOfKey.size).toBe(1)
  })

  it('never hedges a stream body: a hedge is a second send', async () => {
    const clock = new ManualClock()
    const { fire: arrived, fired: reached } = deferred()
    const { fire: answer, fired: answered } = deferred()
    const bodies: string[] = []
    const backends = await servers(2, (req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk))
      req.on('end', () => {
        bodies.push(body)
        arrived()
        void answered.then(() => res.end('stored'))
      })
    })
    const { balancer, client } = balanced(
      backends.map((s) => s.url),
      { clock, hedge: { delay: 50 } },
    )
    let hedges = 0
    balancer.on('hedge', () => hedges++)
    const { body, text } = slowBody('h', 4)
    const sent = client.send('PUT', '/upload', body)
    await reached
    // Far past the hedge delay on keel's clock: a hedge would have gone out now.
    await clock.advance(1_000)
    answer()
    expect((await sent).body).toBe('stored')
    expect(hedges).toBe(0)
    expect(bodies).toEqual([text])
  })

  it('replays a stream body whole after a refused connection, even while a read was pending', async () => {
    const dead = await closedPort()
    let arrived: (() => void) | undefined
    const [live] = await servers(1, (req, res) => {
      arrived?.()
      echo(req, res)
    })
    for (let i = 0; i < 10; i++) {
      // The refused endpoint is the primary: every call's first attempt reads a chunk, asks for the
      // next (held until the retry reached the live server) and fails with that read pending.
      const { balancer, client } = balanced([`http://127.0.0.1:${dead}`, { url: live!.url, priority: 1 }])
      const first = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
      const gate = new Promise<void>((resolve) => (arrived = resolve))
      const { body, text } = slowBody(String(i), 20, gate)
      expect((await client.send('PUT', '/upload', body)).body).toBe(text)
      expect(await first).toMatchObject({ verdict: 'not-sent', retried: true })
    }
    expect(live!.requests).toHaveLength(10)
  })
})

// Only the adapters that end a handed-over response's attempt as the caller's last one: the axios
// adapter still reports it `retried` and starts an attempt that sends nothing (see axios-driver.ts).
const TIMEOUT_DRIVERS = DRIVERS.flatMap(([name, d]) =>
  d.expectAttemptTimeout === undefined ? [] : [[name, d, d.expectAttemptTimeout] as const],
)

describe.each(TIMEOUT_DRIVERS)('%s adapter contract, attempt timeouts', (_name, driver, expectAttemptTimeout) => {
  const { servers, balanced } = harness(driver)

  it('never retries a response already handed over, even when its attempt times out', async () => {
    const backends = await servers(2, (_req, res) => res.write('partial'))
    const { balancer, client, attempts, settled } = balanced(
      backends.map((s) => s.url),
      { attemptTimeout: 300 },
    )
    const ended = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
    const res = await client.open('/slow')
    expect(res.status).toBe(200)
    expectAttemptTimeout(await res.rest().catch((e: unknown) => e))
    expect(await ended).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    await settled(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
    expect(total(backends)).toBe(1)
  })
})
