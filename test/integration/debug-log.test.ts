import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { createGrpcClient } from '../../src/adapters/grpc/index.ts'
import { Balancer, type WarningEvent } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { Echo, insecure, startGrpcServer } from '../helpers/grpc-servers.ts'

const cleanups = cleanupsAfterEach()
const program = new URL('../fixtures/observe/debug-log-program.ts', import.meta.url).pathname

function run(env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, [program], { encoding: 'utf8', env, timeout: 30_000 })
  expect(result.status).toBe(0)
  return { dead: result.stdout.trim(), stderr: result.stderr }
}

describe('NODE_DEBUG=keel', () => {
  it('prints ejections, retries with their reasons, and membership changes', () => {
    const { dead, stderr } = run({ ...process.env, NODE_DEBUG: 'keel' })
    const lines = stderr
      .split('\n')
      .filter((line) => line.startsWith('KEEL '))
      .map((line) => line.replace(/^KEEL \d+: /, ''))
    const port = new URL(dead).port
    // The constructor's endpoints join first (the log is attached before they are applied).
    expect(lines[0]).toBe(`balancer#1 added ${dead}`)
    expect(lines[1]).toMatch(/^balancer#1 added http:\/\/127\.0\.0\.1:\d+$/)
    expect(lines[2]).toMatch(
      new RegExp(`^balancer#1 ejected ${dead} by outlier: consecutive-not-sent \\(until clock \\d+ ms\\)$`),
    )
    // The backoff is jittered: its ms vary from run to run.
    expect(lines[3]!.replace(/ in \d+ ms: /, ' in N ms: ')).toBe(
      `balancer#1 retry call ${lines[3]!.split(' ')[3]} attempt 2 in N ms: ${dead} not-sent: TypeError: fetch failed ← Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    )
    expect(lines.slice(4)).toEqual([
      'balancer#1 added http://127.0.0.1:9',
      'balancer#1 removed http://127.0.0.1:9 (draining)',
    ])
  })

  it('prints nothing without it', () => {
    const env = { ...process.env }
    delete env.NODE_DEBUG
    expect(run(env).stderr).not.toContain('KEEL')
  })
})

describe('a warning for health checks that take every endpoint out', () => {
  it('says the servers lack grpc.health.v1.Health when every check answers UNIMPLEMENTED', async () => {
    const servers = await Promise.all([
      startGrpcServer('bare-1', { health: false }),
      startGrpcServer('bare-2', { health: false }),
    ])
    cleanups.push(() => {
      for (const s of servers) s.forceShutdown()
    })
    const balancer = new Balancer({
      endpoints: servers.map((s) => s.address),
      healthCheck: { type: 'grpc', interval: 100, timeout: 1_000 },
    })
    cleanups.push(() => balancer.close())
    const warning = new Promise<WarningEvent>((resolve) => balancer.once('warning', resolve))
    createGrpcClient(balancer, Echo, insecure)
    const { code, message } = await warning
    expect(code).toBe('KEEL_ALL_UNHEALTHY')
    expect(message).toMatch(
      /^every endpoint \(2\) failed its grpc health check; last: 12 UNIMPLEMENTED.*: the servers do not implement grpc\.health\.v1\.Health/,
    )
  })
})
