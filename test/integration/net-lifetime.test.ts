import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { ConnectTimeoutError, connect } from '../../src/adapters/net/index.ts'
import { Balancer, EndpointRemovedError, leastRequest, seededRandom } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { ManualClock } from '../helpers/clock.ts'
import { startTcpServer, type TcpServer } from '../helpers/tcp-servers.ts'
import { makeTestPki } from '../helpers/tls.ts'

const cleanups = cleanupsAfterEach()

async function servers(n: number): Promise<TcpServer[]> {
  const list = await Promise.all(Array.from({ length: n }, () => startTcpServer()))
  cleanups.push(() => Promise.all(list.map((s) => s.close())).then(() => {}))
  return list
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

function balancer(options: ConstructorParameters<typeof Balancer>[0]) {
  const b = new Balancer({ random: seededRandom(5), ...options })
  cleanups.push(() => b.close())
  return b
}

/** Destroys the sockets before the balancer closes (its close() waits for open connections). */
function track(sockets: Socket[]): Socket[] {
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
  })
  return sockets
}

/** Resolves on 'close' (events.once would reject on the 'error' keel's destroy emits first). */
const closeOf = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()))

async function echo(socket: Socket, text: string): Promise<string> {
  socket.write(text)
  const [data] = await once(socket, 'data')
  return String(data)
}

describe('keel/net connection lifetime', () => {
  it('a removed endpoint’s connections keep running until drainTimeout, then are destroyed (cancelled)', async () => {
    const [a, b] = await servers(2)
    const clock = new ManualClock()
    const lb = balancer({
      endpoints: [a!.url, b!.url],
      picker: leastRequest({ choices: 2 }),
      clock,
      drainTimeout: 1_000,
    })
    const verdicts: string[] = []
    lb.on('attempt', (e) => verdicts.push(`${e.endpoint.port === a!.port ? 'a' : 'b'}:${e.verdict}`))
    const sockets = track([await connect(lb), await connect(lb), await connect(lb), await connect(lb)])
    const onA = sockets.filter((s) => s.remotePort === a!.port)
    expect(onA).toHaveLength(2)
    expect(lb.remove(a!.url)).toBe(true)
    await clock.advance(999)
    expect(await echo(onA[0]!, 'still here')).toBe('still here')
    expect(lb.snapshot().endpoints.find((e) => e.id === a!.url)).toMatchObject({ state: 'draining', inFlight: 2 })
    const errors = onA.map((s) => once(s, 'error'))
    const closed = onA.map(closeOf)
    await clock.advance(1)
    const reasons = (await Promise.all(errors)).map(([error]) => error)
    expect(reasons.map((e) => e instanceof EndpointRemovedError)).toEqual([true, true])
    await Promise.all(closed)
    await clock.advance(0)
    expect(verdicts).toEqual(['a:cancelled', 'a:cancelled'])
    // The other endpoint's connections are untouched, and new ones go there.
    const other = sockets.find((s) => s.remotePort === b!.port)!
    expect(await echo(other, 'b')).toBe('b')
    const next = track([await connect(lb)])
    expect(next[0]!.remotePort).toBe(b!.port)
  })

  it('maxConnectionAge ends each connection once older than the age ±10%, as a success', async () => {
    const [a] = await servers(1)
    const clock = new ManualClock()
    const lb = balancer({ endpoints: [a!.url], clock, maxConnectionAge: 10_000 })
    const verdicts: string[] = []
    lb.on('attempt', (e) => verdicts.push(e.verdict))
    const sockets = track([await connect(lb), await connect(lb), await connect(lb)])
    await clock.advance(8_999)
    expect(sockets.map((s) => s.destroyed)).toEqual([false, false, false])
    expect(await echo(sockets[0]!, 'young')).toBe('young')
    const closed = sockets.map(closeOf)
    await clock.advance(2_001)
    await Promise.all(closed)
    await clock.advance(0)
    expect(verdicts).toEqual(['success', 'success', 'success'])
    expect(lb.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('a TLS handshake that never completes times out (not-sent) and fails over to an endpoint that answers', async () => {
    const pki = makeTestPki(['db.internal'])
    const silent = createServer(() => {})
    const silentPort = await listen(silent)
    const held: Socket[] = []
    silent.on('connection', (s) => held.push(s))
    cleanups.push(() => {
      for (const s of held) s.destroy()
    })
    const secure = createTlsServer({ cert: pki.cert, key: pki.key }, (s) => s.pipe(s))
    const securePort = await listen(secure)
    const clock = new ManualClock()
    const lb = balancer({
      // The silent endpoint is the primary; the answering one a backup (priority 1).
      endpoints: [`tcp://127.0.0.1:${silentPort}`, { url: `tcp://127.0.0.1:${securePort}`, priority: 1 }],
      servername: 'db.internal',
      clock,
      retry: { minTimeout: 1, maxTimeout: 1 },
    })
    const attempts: { port: number; verdict: string; durationMs: number; retried: boolean }[] = []
    lb.on('attempt', (e) => attempts.push({ port: e.endpoint.port, ...e, endpoint: undefined } as never))
    const opened: Socket[] = track([])
    const pending = connect(lb, { tls: { ca: pki.ca }, timeout: 2_000 }).then((s) => {
      opened.push(s)
      return s
    })
    await once(silent, 'connection')
    await clock.advance(1_999)
    expect(attempts).toEqual([])
    await clock.advance(1)
    expect(attempts).toMatchObject([{ port: silentPort, verdict: 'not-sent', durationMs: 2_000, retried: true }])
    await clock.advance(1)
    const socket = await pending
    expect(socket.remotePort).toBe(securePort)
    expect(await echo(socket, 'over tls')).toBe('over tls')

    // With nowhere to fail over to, connect() rejects with the attempt's own error.
    const alone = balancer({ endpoints: [`tcp://127.0.0.1:${silentPort}`], clock, retry: false })
    const failed = connect(alone, { tls: { ca: pki.ca }, timeout: 500 }).catch((e: unknown) => e)
    await once(silent, 'connection')
    await clock.advance(500)
    const error = (await failed) as ConnectTimeoutError
    expect(error).toBeInstanceOf(ConnectTimeoutError)
    expect(error.code).toBe('KEEL_CONNECT_TIMEOUT')
    expect(error.message).toBe(`Connecting to tcp://127.0.0.1:${silentPort} took longer than 500 ms`)
  })

  it('the signal fails a pending connect() and destroys a connected socket (cancelled)', async () => {
    const [a] = await servers(1)
    const lb = balancer({ endpoints: [a!.url] })
    const verdicts: string[] = []
    lb.on('attempt', (e) => verdicts.push(e.verdict))
    const early = new AbortController()
    early.abort(new Error('not needed'))
    await expect(connect(lb, { signal: early.signal })).rejects.toThrow('not needed')
    const controller = new AbortController()
    const socket = track([await connect(lb, { signal: controller.signal })])[0]!
    const closed = closeOf(socket)
    const error = once(socket, 'error')
    controller.abort(new Error('done with it'))
    expect(String((await error)[0])).toBe('Error: done with it')
    await closed
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['cancelled'])
    expect(lb.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('rejects bad options with messages that name the option', async () => {
    const [a] = await servers(1)
    const lb = balancer({ endpoints: [a!.url] })
    await expect(connect(lb, { timeout: -1 })).rejects.toThrow(
      'Expected `timeout` to be a number from 1 to 2147483647, got -1',
    )
    await expect(connect(lb, { timout: 5 } as never)).rejects.toThrow(
      'Unknown option `timout` (did you mean `timeout`?)',
    )
    await expect(connect(lb, { tls: 'yes' } as never)).rejects.toThrow('Expected `tls` to be a boolean or tls options')
    await expect(connect({} as never)).rejects.toThrow('Expected `balancer` to be a keel Balancer')
  })
})
