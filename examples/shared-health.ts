// Shared health over Redis: three instances of a service (three balancers here; in production,
// three processes), four backends, one answering 503. Two instances find it on their own; the
// third learns it from them and never sends it a call. Needs redis-server (Debian: redis-server).
// Run: node examples/shared-health.ts
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Balancer } from 'keel'
import { redisSharedHealth } from 'keel/redis'

// A throwaway redis-server on a loopback port.
const port = 20_000 + Math.floor(Math.random() * 20_000)
const dir = mkdtempSync(join(tmpdir(), 'keel-example-redis-'))
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir])
await new Promise<void>((resolve, reject) => {
  redis.stdout.on('data', (chunk: Buffer) => chunk.includes('Ready to accept') && resolve())
  redis.once('error', reject)
})

// Four backends; the last answers 503.
const backends = await Promise.all(
  [200, 200, 200, 503].map(async (status) => {
    const server = createServer((_req, res) => {
      res.statusCode = status
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return server
  }),
)
const endpoints = backends.map((s) => `http://127.0.0.1:${(s.address() as { port: number }).port}`)

const instances = [0, 1, 2].map(
  () =>
    new Balancer({
      endpoints,
      picker: 'round-robin',
      retry: false,
      sharedHealth: redisSharedHealth({ url: `redis://127.0.0.1:${port}`, service: 'example' }),
    }),
)
const get = (b: Balancer) =>
  b.call(async (endpoint) => {
    const res = await fetch(endpoint.resolve('/'))
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
    return endpoint.port
  })

const third = instances[2]!
const told = new Promise<string>((resolve) =>
  third.on('ejected', (e) => e.detector === 'shared' && resolve(`${e.endpoint.id}: ${e.reason}`)),
)
// The first two find it by their own failures (outlier detection: 5 in a row).
for (const b of instances.slice(0, 2)) for (let i = 0; i < 20; i++) await get(b).catch(() => {})
console.log('third instance:', await told)
const ports = new Set<number>()
for (let i = 0; i < 12; i++) ports.add(await get(third))
console.log(`third instance: 12 calls, all answered by ${ports.size} healthy backends`)

await Promise.all(instances.map((b) => b.close()))
for (const s of backends) s.close()
redis.kill()
rmSync(dir, { recursive: true, force: true })
