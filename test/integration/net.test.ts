import { once } from 'node:events'
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '../../src/adapters/net/index.ts'
import { Balancer, leastRequest, seededRandom } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { startTcpServer, type TcpServer } from '../helpers/tcp-servers.ts'

let servers: TcpServer[] = []
const cleanups = cleanupsAfterEach()

beforeAll(async () => {
  servers = await Promise.all([startTcpServer(), startTcpServer(), startTcpServer()])
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

/** A least-connections balancer: with three choices over three endpoints every pick is a full scan. */
function balancer(list: readonly TcpServer[]) {
  const b = new Balancer({
    endpoints: list.map((s) => s.url),
    picker: leastRequest({ choices: 3 }),
    random: seededRandom(7),
    retry: { minTimeout: 1, maxTimeout: 2 },
  })
  cleanups.push(() => b.close())
  return b
}

function inFlight(b: Balancer<unknown>): number[] {
  const byId = new Map(b.snapshot().endpoints.map((e) => [e.id, e.inFlight]))
  return servers.map((s) => byId.get(`tcp://127.0.0.1:${s.port}`) ?? -1)
}

async function open(b: Balancer<unknown>, n: number): Promise<Socket[]> {
  const sockets: Socket[] = []
  for (let i = 0; i < n; i++) sockets.push(await connect(b))
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
  })
  return sockets
}

/** Which server each client socket reached, by index in `servers`. */
const serverOf = (socket: Socket) => servers.findIndex((s) => s.port === socket.remotePort)

describe('keel/net connect() with least-request (least-connections)', () => {
  it('spreads 30 long-lived connections 10/10/10, then sends the next ones to the server whose connections closed', async () => {
    const b = balancer(servers)
    const before = servers.map((s) => s.accepted)
    const sockets = await open(b, 30)
    await Promise.all(servers.map((s, i) => s.accepts(before[i]! + 10)))
    expect(servers.map((s, i) => s.accepted - before[i]!)).toEqual([10, 10, 10])
    expect(inFlight(b)).toEqual([10, 10, 10])

    // Echo works through the balanced socket.
    const first = sockets[0]!
    first.write('ping')
    const [echo] = await once(first, 'data')
    expect(String(echo)).toBe('ping')

    // The second server closes its connections: their attempts end with the sockets.
    const onSecond = sockets.filter((s) => serverOf(s) === 1)
    expect(onSecond).toHaveLength(10)
    const closed = onSecond.map((s) => once(s, 'close'))
    servers[1]!.dropConnections()
    await Promise.all(closed)
    await new Promise((resolve) => setImmediate(resolve))
    expect(inFlight(b)).toEqual([10, 0, 10])
    expect(b.snapshot().endpoints.map((e) => e.state)).toEqual(['active', 'active', 'active'])

    const next = await open(b, 10)
    expect(next.map(serverOf)).toEqual(Array(10).fill(1))
    expect(inFlight(b)).toEqual([10, 10, 10])
  })

  it('fails over when a server refuses connections mid-run: 0 failed connect()s', async () => {
    const list = await Promise.all([startTcpServer(), startTcpServer(), startTcpServer()])
    cleanups.push(() => Promise.all(list.map((s) => s.close())).then(() => {}))
    const b = new Balancer({
      endpoints: list.map((s) => s.url),
      picker: leastRequest({ choices: 3 }),
      random: seededRandom(11),
      retry: { minTimeout: 1, maxTimeout: 2 },
    })
    cleanups.push(() => b.close())
    const verdicts: string[] = []
    b.on('attempt', (e) => verdicts.push(`${e.endpoint.port === list[0]!.port ? 'refusing' : 'other'}:${e.verdict}`))
    const sockets: Socket[] = []
    cleanups.push(() => {
      for (const s of sockets) s.destroy()
    })
    let failed = 0
    for (let i = 0; i < 30; i++) {
      if (i === 6) await list[0]!.refuse()
      try {
        sockets.push(await connect(b))
      } catch {
        failed++
      }
    }
    expect(failed).toBe(0)
    expect(sockets).toHaveLength(30)
    // Two connections reached the first server before it stopped listening; they still run.
    expect(list.map((s) => s.open.size)).toEqual([2, 14, 14])
    // One refusal ejects it (consecutiveNotSent: 1): later connections never try it.
    expect(verdicts.filter((v) => v === 'refusing:not-sent')).toHaveLength(1)
    const refusing = b.snapshot().endpoints.find((e) => e.id === list[0]!.url)
    expect(refusing).toMatchObject({ state: 'ejected', failures: 1, inFlight: 2 })
  })
})
