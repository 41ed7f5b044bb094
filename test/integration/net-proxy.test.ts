import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createProxy, type ProxyIdleTimeoutError, type ProxyOptions } from '../../src/adapters/net/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { ManualClock } from '../helpers/clock.ts'

const cleanups = cleanupsAfterEach()

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const open = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    open.add(s)
    s.once('close', () => open.delete(s))
  })
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

/** A proxy over one backend; returns its port, the balancer, the errors it reported and its accepted sockets. */
async function proxyTo(
  backendPort: number,
  options: { retry?: false; clock?: ManualClock } = {},
  proxyOptions: Omit<ProxyOptions, 'onError'> = {},
) {
  const balancer = new Balancer({ endpoints: [`tcp://127.0.0.1:${backendPort}`], ...options })
  cleanups.push(() => balancer.close())
  const errors: unknown[] = []
  const proxy = createProxy(balancer, { ...proxyOptions, onError: (error) => errors.push(error) })
  const accepted: Socket[] = []
  proxy.on('connection', (socket: Socket) => accepted.push(socket))
  const port = await listen(proxy)
  return { port, balancer, errors, accepted }
}

/** Resolves once `condition()` holds, checking once per event-loop turn (no timer). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}

function dial(port: number): Promise<Socket> {
  const socket = netConnect({ port, host: '127.0.0.1', allowHalfOpen: true })
  socket.on('error', () => {})
  cleanups.push(() => {
    socket.destroy()
  })
  return once(socket, 'connect').then(() => socket)
}

/**
 * Reads a socket to its end. Not `for await`: its iterator destroys the socket at the end (Node 22),
 * which would cut the other direction of a half-open connection.
 */
function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('end', () => resolve(Buffer.concat(chunks)))
    socket.once('error', reject)
  })
}

/** A promise and its resolve function (Promise.withResolvers is ES2024; the lib is older). */
function resolvable<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

const verdictsOf = (balancer: Balancer<unknown>) => {
  const verdicts: string[] = []
  balancer.on('attempt', (e) => verdicts.push(e.verdict))
  return verdicts
}

describe('createProxy', () => {
  it('passes a client’s half-close on and keeps the other direction flowing', async () => {
    // The backend answers once the client has finished sending (its FIN arrived).
    const backend = createServer({ allowHalfOpen: true }, async (socket) => {
      const request = await readAll(socket)
      socket.end(`got ${request.length} bytes`)
    })
    const { port, balancer } = await proxyTo(await listen(backend))
    const verdicts = verdictsOf(balancer)
    const client = await dial(port)
    const ended = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.end('hello')
    expect(String(await readAll(client))).toBe('got 5 bytes')
    await ended
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['success'])
  })

  it('passes a server’s half-close on: the client can still send after the server ended its side', async () => {
    const received = resolvable<string>()
    const backend = createServer({ allowHalfOpen: true }, async (socket) => {
      socket.end('banner')
      received.resolve(String(await readAll(socket)))
    })
    const { port } = await proxyTo(await listen(backend))
    const client = await dial(port)
    expect(String(await readAll(client))).toBe('banner')
    client.end('late words')
    expect(await received.promise).toBe('late words')
  })

  it('moves 8 MB each way intact, both directions at once', async () => {
    const download = randomBytes(8 * 1024 * 1024)
    const upload = randomBytes(8 * 1024 * 1024)
    const uploaded = resolvable<string>()
    // Both directions flow at once; the client ends its side once it has the whole download.
    const backend = createServer({ allowHalfOpen: true }, async (socket) => {
      socket.end(download)
      uploaded.resolve(
        createHash('sha256')
          .update(await readAll(socket))
          .digest('hex'),
      )
    })
    const { port, balancer } = await proxyTo(await listen(backend))
    const verdicts = verdictsOf(balancer)
    const client = await dial(port)
    client.write(upload)
    const got = await readAll(client)
    client.end()
    expect(got.length).toBe(download.length)
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(download).digest('hex'))
    expect(await uploaded.promise).toBe(createHash('sha256').update(upload).digest('hex'))
    await new Promise<void>((resolve) => (client.closed ? resolve() : client.once('close', () => resolve())))
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['success'])
  })

  it('a client that stops reading stops the upstream reads; its bytes arrive intact when it reads again', async () => {
    const download = randomBytes(24 * 1024 * 1024)
    const backend = createServer((socket) => socket.end(download))
    const { port, accepted } = await proxyTo(await listen(backend))
    const client = await dial(port)
    const chunks: Buffer[] = []
    client.on('data', (chunk: Buffer) => chunks.push(chunk))
    const ended = once(client, 'end')
    // Three times: the client stops reading until the proxy's write to it is pending (so the
    // proxy has stopped reading upstream into its buffer), then reads again.
    for (let i = 0; i < 3; i++) {
      await until(() => chunks.length > i)
      client.pause()
      await until(() => accepted[0]!.writableLength > 0)
      client.resume()
    }
    await ended
    const got = Buffer.concat(chunks)
    expect(got.length).toBe(download.length)
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(download).digest('hex'))
  })

  it('a backend that stops reading stops the client’s reads; the upload arrives intact', async () => {
    const upload = randomBytes(24 * 1024 * 1024)
    let backendSocket: Socket | undefined
    const uploaded = resolvable<Buffer>()
    const backend = createServer({ allowHalfOpen: true }, (socket) => {
      backendSocket = socket
      socket.pause()
      readAll(socket).then(uploaded.resolve)
    })
    const { port, accepted } = await proxyTo(await listen(backend))
    const client = await dial(port)
    expect(client.write(upload)).toBe(false)
    client.end()
    const flushed = once(client, 'finish')
    // The backend reads nothing: once the proxy's upstream writes are pending it stops reading the
    // client, whose bytes then wait in the kernel and in the client's own buffer.
    await until(() => backendSocket !== undefined && accepted[0]!.isPaused())
    expect(accepted[0]!.bytesRead).toBeLessThan(upload.length)
    expect(client.writableFinished).toBe(false)
    backendSocket!.resume()
    await flushed
    expect(
      createHash('sha256')
        .update(await uploaded.promise)
        .digest('hex'),
    ).toBe(createHash('sha256').update(upload).digest('hex'))
  })

  it('closes a connection idle both ways for idleTimeout (on the balancer’s clock); bytes either way reset it', async () => {
    const clock = new ManualClock()
    // An echo server: every byte the client sends comes back.
    const backend = createServer((socket) => socket.pipe(socket))
    const { port, balancer, errors } = await proxyTo(await listen(backend), { clock }, { idleTimeout: 1_000 })
    const verdicts = verdictsOf(balancer)
    const client = await dial(port)
    // The proxy closes both sides: the client (half-open allowed) sees the end of its stream.
    const ended = once(client, 'end')
    const echo = async (text: string) => {
      client.write(text)
      return String((await once(client, 'data'))[0])
    }
    expect(await echo('a')).toBe('a')
    await clock.advance(999)
    expect(await echo('b')).toBe('b') // at 999 ms: the idle time starts again
    await clock.advance(1)
    expect(client.destroyed).toBe(false) // 1 000 ms after the start, 1 ms after the last byte
    await clock.advance(998)
    expect(client.destroyed).toBe(false)
    await clock.advance(1)
    await ended
    expect(errors.map((e) => [(e as ProxyIdleTimeoutError).code, (e as ProxyIdleTimeoutError).timeoutMs])).toEqual([
      ['KEEL_PROXY_IDLE_TIMEOUT', 1_000],
    ])
    await until(() => verdicts.length === 1)
    expect(verdicts).toEqual(['success'])
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('idleTimeout: 0 never closes an idle connection; the default is 10 minutes', async () => {
    const clock = new ManualClock()
    const backend = createServer((socket) => socket.pipe(socket))
    const backendPort = await listen(backend)
    const off = await proxyTo(backendPort, { clock }, { idleTimeout: 0 })
    const byDefault = await proxyTo(backendPort, { clock })
    const [a, b] = [await dial(off.port), await dial(byDefault.port)]
    a.write('x')
    b.write('x')
    await Promise.all([once(a, 'data'), once(b, 'data')])
    await clock.advance(599_999)
    expect([a.destroyed, b.destroyed]).toEqual([false, false])
    const ended = once(b, 'end')
    await clock.advance(1)
    await ended
    await clock.advance(3_600_000)
    expect(a.destroyed).toBe(false)
    a.write('still here')
    expect(String((await once(a, 'data'))[0])).toBe('still here')
  })

  it('a backend reset closes the client’s connection (endpoint-failure); a client reset closes the backend’s', async () => {
    const backendSockets: Socket[] = []
    // The backend greets each connection, so the client knows the proxied connection is up.
    const backend = createServer((socket) => {
      backendSockets.push(socket)
      socket.on('error', () => {})
      socket.write('hi')
    })
    const { port, balancer, errors } = await proxyTo(await listen(backend))
    const verdicts = verdictsOf(balancer)

    const first = await dial(port)
    await once(first, 'data')
    // The client (half-open) sees its connection ended.
    const firstEnded = readAll(first)
    backendSockets[0]!.resetAndDestroy()
    expect((await firstEnded).length).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['endpoint-failure'])
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNRESET'])

    const second = await dial(port)
    await once(second, 'data')
    const backendClosed = new Promise<void>((resolve) => backendSockets[1]!.once('close', () => resolve()))
    const ended = new Promise<string>((resolve) => balancer.once('attempt', (e) => resolve(e.verdict)))
    second.resetAndDestroy()
    await backendClosed
    // The proxy destroyed its upstream connection: nothing wrong with the endpoint.
    expect(await ended).toBe('success')
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('closes the client’s connection when no upstream connection can be made, and reports why', async () => {
    const gone = createServer()
    const port0 = await listen(gone)
    await new Promise<void>((resolve) => gone.close(() => resolve()))
    const { port, errors } = await proxyTo(port0, { retry: false })
    const client = await dial(port)
    expect((await readAll(client)).length).toBe(0)
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ECONNREFUSED'])
  })

  it('rejects bad options with messages that name the option', async () => {
    const balancer = new Balancer({ endpoints: ['tcp://127.0.0.1:1'] })
    cleanups.push(() => balancer.close())
    expect(() => createProxy(balancer, { connect: { timeout: 0 } })).toThrow(
      'Expected `connect.timeout` to be a number from 1 to 2147483647, got 0',
    )
    expect(() => createProxy(balancer, { connect: { signal: AbortSignal.abort() } as never })).toThrow(
      'Expected `connect.signal` to be absent (the proxy sets it)',
    )
    expect(() => createProxy(balancer, { idleTimeout: -1 })).toThrow(
      'Expected `idleTimeout` to be a non-negative number ≤ 2147483647, got -1',
    )
    expect(() => createProxy(balancer, { onErorr: () => {} } as never)).toThrow(
      'Unknown option `onErorr` (did you mean `onError`?)',
    )
    expect(() => createProxy({} as never)).toThrow('Expected `balancer` to be a keel Balancer')
  })
})
