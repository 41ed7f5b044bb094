import { once } from 'node:events'
import type { AddressInfo, Server } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProxy, pgStream } from '../../src/adapters/net/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts'
import { startTcpServer } from '../helpers/tcp-servers.ts'

let postgres: PostgresServer
const cleanups = cleanupsAfterEach()

beforeAll(async () => {
  postgres = await startPostgres()
}, 30_000)
afterAll(async () => {
  await postgres?.stop()
})

describe('keel/net with a real PostgreSQL', () => {
  it('pg.Pool with pgStream answers SELECT 1, failing over from a refusing endpoint', async () => {
    // The first endpoint is a port nothing listens on any more: its connections are refused. The
    // four connections start together, so round-robin sends two of them there before it is ejected.
    const dead = await startTcpServer()
    await dead.close()
    const b = new Balancer({
      endpoints: [`tcp://127.0.0.1:${dead.port}`, `tcp://127.0.0.1:${postgres.port}`],
      picker: 'round-robin',
      retry: { minTimeout: 1, maxTimeout: 2 },
    })
    cleanups.push(() => b.close())
    const pool = new pg.Pool({ user: 'postgres', database: 'postgres', max: 4, stream: pgStream(b) })
    cleanups.push(() => pool.end())
    const results = await Promise.all(
      Array.from({ length: 4 }, () => pool.query<{ one: number }>('SELECT 1 AS one').then((r) => r.rows[0]!.one)),
    )
    expect(results).toEqual([1, 1, 1, 1])
    const byId = new Map(b.snapshot().endpoints.map((e) => [e.id, e]))
    expect(byId.get(`tcp://127.0.0.1:${postgres.port}`)!.inFlight).toBe(pool.totalCount)
    expect(byId.get(`tcp://127.0.0.1:${dead.port}`)).toMatchObject({ inFlight: 0, failures: 2, state: 'ejected' })
    // Ending the pool closes its connections (pg-pool does not wait for the sockets): each
    // connection's attempt ends as a success when its socket closes.
    const verdicts: string[] = []
    const ended = new Promise<void>((resolve) =>
      b.on('attempt', (e) => {
        if (verdicts.push(e.verdict) === 4) resolve()
      }),
    )
    await pool.end()
    cleanups.pop()
    await ended
    expect(verdicts).toEqual(['success', 'success', 'success', 'success'])
    expect(b.snapshot().endpoints.map((e) => e.inFlight)).toEqual([0, 0])
  })

  it('pg.Client through createProxy answers SELECT 1', async () => {
    const b = new Balancer({ endpoints: [`tcp://127.0.0.1:${postgres.port}`] })
    cleanups.push(() => b.close())
    const proxy: Server = createProxy(b)
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const port = (proxy.address() as AddressInfo).port
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })
    await client.connect()
    const { rows } = await client.query<{ one: number; two: string }>('SELECT 1 AS one, $1::text AS two', ['keel'])
    expect(rows).toEqual([{ one: 1, two: 'keel' }])
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(1)
    const closed = once(client, 'end')
    await client.end()
    await closed
  })
})
