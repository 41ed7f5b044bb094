// Shared health: N callers (1, 5, 20 balancers, each with its own Redis connections) over four real
// HTTP backends; one backend starts answering 503. Measured: the attempts the bad backend receives
// across the fleet after it turned bad, and the time until every caller avoids it (has it
// ejected), with and without `keel/redis` shared health, in one run. The callers share this
// process (20 Node processes would mostly measure their start-up on a shared machine).
// Needs Debian's redis-server. Run: node bench/shared-health.ts
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisSharedHealth } from '../src/addons/redis/index.ts'
import { Balancer, seededRandom } from '../src/index.ts'
import { fmt, median, table } from './lib.ts'

const RUNS = 3
const LIMIT_MS = 8_000
/** Calls per second across the whole fleet, whatever its size: more callers, fewer calls each. */
const FLEET_RATE = 400
const random = seededRandom(42)

async function freePort(): Promise<number> {
  const s = createTcpServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as { port: number }
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

async function startRedis() {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-redis-'))
  const child = spawn('/usr/bin/redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
  ])
  await new Promise<void>((resolve, reject) => {
    let log = ''
    child.stdout.on('data', (c: Buffer) => {
      log += c
      if (log.includes('Ready to accept connections')) resolve()
    })
    child.once('exit', () => reject(new Error(log)))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    stop() {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const bad = { on: false, hits: 0 }
const servers: Server[] = []
for (let i = 0; i < 4; i++) {
  const server = createServer((_req, res) => {
    if (i === 3 && bad.on) {
      bad.hits++
      res.statusCode = 503
    }
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
}
const endpoints = servers.map((s) => `http://127.0.0.1:${(s.address() as { port: number }).port}`)
const redis = await startRedis()

let round = 0
async function run(n: number, sharing: boolean) {
  const service = `bench-${++round}`
  const fleet = Array.from(
    { length: n },
    () =>
      new Balancer({
        endpoints,
        // Round robin: every caller sends the bad backend one call in four until it ejects it, so
        // the figures measure detection, not the picker's avoidance (p2c-ewma's failure floor).
        picker: 'round-robin',
        retry: false,
        ...(sharing ? { sharedHealth: redisSharedHealth({ url: redis.url, service, reportInterval: 1_000 }) } : {}),
      }),
  )
  const badId = fleet[0]!.endpoints[3]!.id
  const avoiding = new Set<Balancer>()
  let started = 0
  let allAvoid = 0
  const done = new Promise<void>((resolve) => {
    for (const b of fleet) {
      b.on('ejected', (e) => {
        if (e.endpoint.id !== badId) return
        avoiding.add(b)
        if (avoiding.size === n) {
          allAvoid = performance.now() - started
          resolve()
        }
      })
    }
  })
  // Warm up: connections to Redis and the backends.
  await new Promise((resolve) => setTimeout(resolve, 300))
  bad.hits = 0
  bad.on = true
  started = performance.now()
  let stop = false
  const caller = async (b: Balancer) => {
    while (!stop) {
      await b
        .call(async (endpoint) => {
          const res = await fetch(endpoint.resolve('/'))
          await res.text()
          if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
        })
        .catch(() => {})
      // Poisson arrivals: callers are not in lockstep, as in a real fleet.
      const meanMs = (1_000 * n) / FLEET_RATE
      await new Promise((resolve) => setTimeout(resolve, -Math.log(1 - random()) * meanMs))
    }
  }
  const loops = fleet.map(caller)
  const timer = setTimeout(() => {
    allAvoid = Number.NaN
    stop = true
  }, LIMIT_MS)
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, LIMIT_MS))])
  const hits = bad.hits
  stop = true
  clearTimeout(timer)
  await Promise.all(loops)
  bad.on = false
  await Promise.all(fleet.map((b) => b.close()))
  return { hits, ms: allAvoid }
}

const rows: (string | number)[][] = []
for (const n of [1, 5, 20]) {
  for (const sharing of [false, true]) {
    const results = []
    for (let r = 0; r < RUNS; r++) results.push(await run(n, sharing))
    rows.push([
      n,
      sharing ? 'keel/redis shared health' : 'each caller on its own',
      fmt(median(results.map((r) => r.hits))),
      results.some((r) => Number.isNaN(r.ms)) ? `> ${fmt(LIMIT_MS)}` : fmt(median(results.map((r) => r.ms))),
    ])
  }
}
redis.stop()
for (const s of servers) s.close()
console.log(
  `Node ${process.version}; median of ${RUNS} runs; ${FLEET_RATE} calls/s across the fleet (Poisson arrivals per caller)\n`,
)
console.log(table(['callers', 'mode', 'attempts the bad backend got (fleet)', 'ms until every caller avoids it'], rows))
