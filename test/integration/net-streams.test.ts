import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { mysql2Stream, pgStream } from '../../src/adapters/net/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'

const cleanups = cleanupsAfterEach()

/** A server that greets each connection first (as MySQL does), then echoes. */
async function greeter(): Promise<{ server: Server; port: number }> {
  const open = new Set<Socket>()
  const server = createServer((socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    socket.write('hello\n')
    socket.pipe(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  )
  return { server, port: (server.address() as AddressInfo).port }
}

function balancer(port: number) {
  const b = new Balancer({ endpoints: [`tcp://127.0.0.1:${port}`] })
  cleanups.push(() => b.close())
  const verdicts: string[] = []
  b.on('attempt', (e) => verdicts.push(e.verdict))
  return { b, verdicts }
}

const closeOf = (stream: Duplex) => new Promise<void>((resolve) => stream.once('close', () => resolve()))

describe('stream factories (BalancedStream)', () => {
  it('mysql2Stream connects at once: the server speaks first, bytes flow both ways, end closes it', async () => {
    const { port } = await greeter()
    const { b, verdicts } = balancer(port)
    const stream = mysql2Stream(b)()
    const [greeting] = await once(stream, 'data')
    expect(String(greeting)).toBe('hello\n')
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(1)
    stream.write('ping')
    const [echo] = await once(stream, 'data')
    expect(String(echo)).toBe('ping')
    const closed = closeOf(stream)
    stream.end()
    stream.resume()
    await closed
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['success'])
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('pgStream waits for connect(), then emits connect; destroying it before it is up cancels the attempt', async () => {
    const { port } = await greeter()
    const { b, verdicts } = balancer(port)
    const factory = pgStream(b)
    const idle = factory() as Duplex & { connect(port: number, host: string): unknown; connecting: boolean }
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(0)
    idle.destroy()

    const stream = factory() as Duplex & { connect(port: number, host: string): unknown; connecting: boolean }
    stream.connect(5432, 'ignored.example')
    expect(stream.connecting).toBe(true)
    await once(stream, 'connect')
    expect(stream.connecting).toBe(false)
    const [greeting] = await once(stream, 'data')
    expect(String(greeting)).toBe('hello\n')
    const closed = closeOf(stream)
    stream.destroy()
    await closed
    await new Promise((resolve) => setImmediate(resolve))
    expect(verdicts).toEqual(['success'])

    // Destroyed while connecting: the connection attempt is abandoned, nothing stays in flight.
    const early = factory() as Duplex & { connect(port: number, host: string): unknown }
    early.connect(5432, 'ignored.example')
    const earlyClosed = closeOf(early)
    early.destroy()
    await earlyClosed
    await new Promise((resolve) => setImmediate(resolve))
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('a stream whose connection cannot be made errors with the connection error', async () => {
    const { server, port } = await greeter()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const b = new Balancer({ endpoints: [`tcp://127.0.0.1:${port}`], retry: false })
    cleanups.push(() => b.close())
    const stream = mysql2Stream(b)()
    const [error] = await once(stream, 'error')
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
  })
})
