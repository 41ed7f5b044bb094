import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type AddressInfo, connect as netConnect, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { connect, createProxy } from '../../src/adapters/net/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { makeTestPki } from '../helpers/tls.ts'

const cleanups = cleanupsAfterEach()

/** A TLS echo server for `names`; records the SNI name of each connection. */
async function tlsEcho(pki: { cert: string; key: string }) {
  const names: (string | false | null)[] = []
  const open = new Set<Socket>()
  const server: Server = createTlsServer({ cert: pki.cert, key: pki.key }, (socket: TLSSocket) => {
    names.push(socket.servername)
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  server.on('connection', (s: Socket) => {
    open.add(s)
    s.once('close', () => open.delete(s))
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
  return { port: (server.address() as AddressInfo).port, names }
}

function balancer(options: ConstructorParameters<typeof Balancer>[0]) {
  const b = new Balancer(options)
  cleanups.push(() => b.close())
  return b
}

function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('end', () => resolve(Buffer.concat(chunks)))
    socket.once('error', reject)
  })
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('keel/net over TLS', () => {
  it('connect({ tls }) sends the servername as SNI and checks the certificate against it', async () => {
    const pki = makeTestPki(['db.internal', 'replica.internal'])
    const [primary, replica] = [await tlsEcho(pki), await tlsEcho(pki)]
    const b = balancer({
      // The second endpoint names itself: its name wins over the connect() option.
      endpoints: [
        `tcp://127.0.0.1:${primary.port}`,
        { url: `tcp://127.0.0.1:${replica.port}`, servername: 'replica.internal' },
      ],
      picker: 'round-robin',
    })
    const sockets = [
      (await connect(b, { tls: { ca: pki.ca, servername: 'db.internal' } })) as TLSSocket,
      (await connect(b, { tls: { ca: pki.ca, servername: 'db.internal' } })) as TLSSocket,
    ]
    cleanups.push(() => {
      for (const s of sockets) s.destroy()
    })
    expect(sockets.map((s) => s.authorized)).toEqual([true, true])
    for (const s of sockets) {
      s.write('over tls')
      expect(String((await once(s, 'data'))[0])).toBe('over tls')
    }
    expect([primary.names, replica.names]).toEqual([['db.internal'], ['replica.internal']])
    expect(b.snapshot().endpoints.map((e) => e.inFlight)).toEqual([1, 1])
  })

  it('a server whose certificate does not verify for the servername is not-sent: connect() fails over to one that does', async () => {
    const pki = makeTestPki(['db.internal'])
    const [wrong, right] = [await tlsEcho(pki), await tlsEcho(pki)]
    const b = balancer({
      // The primary is known by a name its certificate does not carry; the backup (priority 1) is
      // reached with the connect() option's name, which it does.
      endpoints: [
        { url: `tcp://127.0.0.1:${wrong.port}`, servername: 'cache.internal' },
        { url: `tcp://127.0.0.1:${right.port}`, priority: 1 },
      ],
      retry: { minTimeout: 1, maxTimeout: 1 },
    })
    const attempts: { port: number; verdict: string }[] = []
    b.on('attempt', (e) => attempts.push({ port: e.endpoint.port, verdict: e.verdict }))
    const socket = (await connect(b, { tls: { ca: pki.ca, servername: 'db.internal' } })) as TLSSocket
    cleanups.push(() => {
      socket.destroy()
    })
    expect(socket.remotePort).toBe(right.port)
    expect(attempts).toEqual([{ port: wrong.port, verdict: 'not-sent' }])
    // With nowhere to fail over to, connect() rejects with the handshake's own error.
    const alone = balancer({
      endpoints: [{ url: `tcp://127.0.0.1:${wrong.port}`, servername: 'cache.internal' }],
      retry: false,
    })
    const error = (await connect(alone, { tls: { ca: pki.ca, servername: 'db.internal' } }).catch(
      (e: unknown) => e,
    )) as NodeJS.ErrnoException
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    expect(error.message).toContain('cache.internal')
  })

  it('createProxy with connect.tls: plain clients reach a TLS server, 4 MB each way intact', async () => {
    const pki = makeTestPki(['db.internal'])
    const server = await tlsEcho(pki)
    const b = balancer({ endpoints: [`tcp://127.0.0.1:${server.port}`] })
    const proxy = createProxy(b, { connect: { tls: { ca: pki.ca, servername: 'db.internal' } } })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const client = netConnect({ port: (proxy.address() as AddressInfo).port, host: '127.0.0.1' })
    cleanups.push(() => {
      client.destroy()
    })
    await once(client, 'connect')
    const upload = randomBytes(4 * 1024 * 1024)
    const echoed = readAll(client)
    client.end(upload)
    expect(sha(await echoed)).toBe(sha(upload))
    expect(server.names).toEqual(['db.internal'])
  })
})
