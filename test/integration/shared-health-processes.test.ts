// Shared health across separate Node processes over a real redis-server.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { expect, it } from 'vitest'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { startServers } from '../helpers/servers.ts'

const cleanups = cleanupsAfterEach()
const INSTANCE = new URL('../fixtures/shared-health/instance.ts', import.meta.url).pathname

/** A child process running one balancer; `next()` resolves with its next JSON line. */
function instance(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [INSTANCE, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  cleanups.push(async () => {
    child.stdin!.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    async next(): Promise<Record<string, unknown>> {
      const { value, done } = await lines.next()
      if (done) throw new Error('instance exited')
      return JSON.parse(value as string) as Record<string, unknown>
    },
  }
}

it('five processes over four backends, one answering 503: after two ejected it, the other three send it 0 attempts', async () => {
  const redis = await startRedisServer()
  cleanups.push(() => redis.stop())
  const servers = await startServers(4)
  cleanups.push(() => Promise.all(servers.map((s) => s.close())).then(() => {}))
  const bad = servers[3]!
  bad.handle((_req, res) => {
    res.statusCode = 503
    res.end('down')
  })
  const common = (role: string) => [redis.url, 'procs', role, String(bad.port), ...servers.map((s) => s.url)]
  // All five start together (a process takes a while to start on a busy machine); the three told
  // ones learn from the channel or, if they subscribe late, from the keys.
  const told = [instance(common('told')), instance(common('told')), instance(common('told'))]
  const finders = [instance(common('find')), instance(common('find'))]
  for (const t of told) expect(await t.next()).toEqual({ role: 'told', waiting: true })
  // Each finds it by its own five consecutive failures.
  expect(await Promise.all(finders.map((f) => f.next()))).toEqual(
    Array(2).fill({ role: 'find', ejected: true, toBad: 5 }),
  )
  const results = await Promise.all(told.map((t) => t.next()))
  expect(results).toEqual(Array(3).fill({ role: 'told', toBad: 0, failed: 0 }))
}, 20_000)
