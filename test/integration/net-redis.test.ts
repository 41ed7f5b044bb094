import { once } from 'node:events'
import type { AddressInfo, Server } from 'node:net'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { createProxy } from '../../src/adapters/net/index.ts'
import { type IoredisConnectorClass, ioredisConnector } from '../../src/adapters/net/ioredis.ts'
import { Balancer, leastRequest, seededRandom } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

const cleanups = cleanupsAfterEach()

function balancer(servers: readonly RedisServer[]) {
  const b = new Balancer({
    endpoints: servers.map((r) => `tcp://127.0.0.1:${r.port}`),
    picker: leastRequest({ choices: 3 }),
    random: seededRandom(3),
    retry: { minTimeout: 1, maxTimeout: 5 },
  })
  cleanups.push(() => b.close())
  return b
}

/** ioredis clients that reconnect at once (the default waits 50 ms × attempts). */
function client(options: { Connector?: IoredisConnectorClass; port?: number; host?: string }): Redis {
  const c = new Redis({ lazyConnect: true, retryStrategy: () => 1, maxRetriesPerRequest: 5, ...options })
  c.on('error', () => {})
  cleanups.push(() => c.disconnect())
  return c
}

/**
 * Resolves when `c` is ready again. Not `once(c, 'ready')`: that rejects on an `error` event, and a
 * client whose server is stopped may see its connection reset (ECONNRESET) before it reconnects.
 */
const readyAgain = (c: Redis) => new Promise<void>((resolve) => c.once('ready', () => resolve()))

const inFlight = (b: Balancer<unknown>) => b.snapshot().endpoints.map((e) => e.inFlight)
/** The port of the redis-server a client is connected to (its `CONFIG GET port`). */
const serverPort = async (c: Redis) => Number(((await c.config('GET', 'port')) as string[])[1])

describe('keel/net with a real redis-server', () => {
  it('ioredis clients with ioredisConnector spread 2/2/2, answer PING, and reconnect to the others when a server dies', async () => {
    const servers = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())).then(() => {}))
    const b = balancer(servers)
    const Connector = ioredisConnector(b)
    const clients = Array.from({ length: 6 }, () => client({ Connector }))
    for (const c of clients) await c.connect()
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    expect(inFlight(b)).toEqual([2, 2, 2])
    const ports = await Promise.all(clients.map(serverPort))
    expect(servers.map((s) => ports.filter((p) => p === s.port).length)).toEqual([2, 2, 2])

    const victims = clients.filter((_, i) => ports[i] === servers[0]!.port)
    const reconnected = victims.map(readyAgain)
    await servers[0]!.stop()
    await Promise.all(reconnected)
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    const after = await Promise.all(clients.map(serverPort))
    expect(after.filter((p) => p === servers[0]!.port)).toEqual([])
    const byId = new Map(b.snapshot().endpoints.map((e) => [e.id, e]))
    expect(servers.map((s) => byId.get(`tcp://127.0.0.1:${s.port}`)!.inFlight)).toEqual([0, 3, 3])
    expect(byId.get(`tcp://127.0.0.1:${servers[0]!.port}`)!.state).toBe('ejected')
  })

  it('createProxy: redis clients through the proxy answer PING; a killed server’s clients reconnect through it to the others', async () => {
    const servers = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())).then(() => {}))
    const b = balancer(servers)
    const proxy: Server = createProxy(b)
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const port = (proxy.address() as AddressInfo).port
    const clients = Array.from({ length: 6 }, () => client({ port, host: '127.0.0.1' }))
    for (const c of clients) await c.connect()
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    expect(await clients[0]!.set('k', 'v')).toBe('OK')
    const ports = await Promise.all(clients.map(serverPort))
    expect(servers.map((s) => ports.filter((p) => p === s.port).length)).toEqual([2, 2, 2])

    const victims = clients.filter((_, i) => ports[i] === servers[1]!.port)
    const reconnected = victims.map(readyAgain)
    await servers[1]!.stop()
    await Promise.all(reconnected)
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    const after = await Promise.all(clients.map(serverPort))
    expect(after.filter((p) => p === servers[1]!.port)).toEqual([])
    expect(inFlight(b).reduce((a, n) => a + n)).toBe(6)
  })

  it('node-redis clients through createProxy answer PING, and reconnect through it to the others when a server dies', async () => {
    const servers = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())).then(() => {}))
    const b = balancer(servers)
    const proxy: Server = createProxy(b)
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const port = (proxy.address() as AddressInfo).port
    // node-redis has no socket factory (its `socket` options go to net.connect): it dials the proxy.
    const clients = Array.from({ length: 6 }, () => {
      const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: () => 1 } })
      c.on('error', () => {})
      cleanups.push(() => {
        c.destroy()
      })
      return c
    })
    for (const c of clients) await c.connect()
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    expect(await clients[0]!.set('k', 'v')).toBe('OK')
    const portOf = async (c: (typeof clients)[number]) => Number((await c.configGet('port')).port)
    const ports = await Promise.all(clients.map(portOf))
    expect(servers.map((s) => ports.filter((p) => p === s.port).length)).toEqual([2, 2, 2])

    const victims = clients.filter((_, i) => ports[i] === servers[2]!.port)
    // Not events.once: node-redis emits 'error' (the socket closed) before it reconnects.
    const reconnected = victims.map((c) => new Promise((resolve) => c.once('ready', resolve)))
    await servers[2]!.stop()
    await Promise.all(reconnected)
    expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(6).fill('PONG'))
    const after = await Promise.all(clients.map(portOf))
    expect(after.filter((p) => p === servers[2]!.port)).toEqual([])
    expect(inFlight(b).reduce((a, n) => a + n)).toBe(6)
  })
})
