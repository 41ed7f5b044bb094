import { once } from 'node:events'
import type { AddressInfo, Server } from 'node:net'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProxy, mysql2Stream } from '../../src/adapters/net/index.ts'
import { Balancer } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { type MariadbServer, startMariadb } from '../helpers/mariadb.ts'
import { startTcpServer } from '../helpers/tcp-servers.ts'

let mariadb: MariadbServer | undefined
const cleanups = cleanupsAfterEach()

beforeAll(async () => {
  mariadb = await startMariadb()
}, 30_000)
afterAll(async () => {
  await mariadb?.stop()
})

describe('keel/net with a real MariaDB server', () => {
  it('a mysql2 pool with mysql2Stream answers SELECT 1, failing over from a refusing endpoint', async () => {
    const port = mariadb!.port
    // The first endpoint is a port nothing listens on any more: its connections are refused. The
    // four connections start together, so round-robin sends two of them there before it is ejected.
    const dead = await startTcpServer()
    await dead.close()
    const b = new Balancer({
      endpoints: [`tcp://127.0.0.1:${dead.port}`, `tcp://127.0.0.1:${port}`],
      picker: 'round-robin',
      retry: { minTimeout: 1, maxTimeout: 2 },
    })
    cleanups.push(() => b.close())
    const pool = mysql.createPool({ user: 'root', connectionLimit: 4, stream: mysql2Stream(b) })
    cleanups.push(() => pool.end())
    // Four queries at once: the pool opens four connections.
    const rows = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        pool.query<mysql.RowDataPacket[]>('SELECT ? + 1 AS n, @@port AS port', [i]).then(([r]) => r[0]),
      ),
    )
    expect(rows).toEqual([0, 1, 2, 3].map((i) => ({ n: i + 1, port })))
    const byId = new Map(b.snapshot().endpoints.map((e) => [e.id, e]))
    expect(byId.get(`tcp://127.0.0.1:${port}`)!.inFlight).toBe(4)
    expect(byId.get(`tcp://127.0.0.1:${dead.port}`)).toMatchObject({ inFlight: 0, failures: 2, state: 'ejected' })
    // Ending the pool quits and closes its connections: each attempt ends as a success.
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

  it('a mysql2 connection through createProxy answers a prepared statement', async () => {
    const b = new Balancer({ endpoints: [`tcp://127.0.0.1:${mariadb!.port}`] })
    cleanups.push(() => b.close())
    const proxy: Server = createProxy(b)
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const port = (proxy.address() as AddressInfo).port
    const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
    cleanups.push(() => connection.destroy())
    const [rows] = await connection.execute<mysql.RowDataPacket[]>('SELECT ? AS word, @@port AS port', ['keel'])
    expect(rows).toEqual([{ word: 'keel', port: mariadb!.port }])
    expect(b.snapshot().endpoints[0]!.inFlight).toBe(1)
    await connection.end()
  })
})
