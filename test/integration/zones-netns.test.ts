import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Balancer, type EndpointInput } from '../../src/index.ts'

// Zones as network namespaces: three namespaces (zones a, b, c), each joined to the test's own
// namespace by a veth pair and running one server process with three listeners. The test process
// plays a caller in zone a. The kernel has no netem, so the cross-zone cost is added by the
// backends of zones b and c themselves: each answer waits CROSS_ZONE_MS first. Namespaces and
// processes are removed in afterAll, also when a test or the setup fails.

const CROSS_ZONE_MS = 20
const ZONES = ['a', 'b', 'c'] as const
const tag = process.pid % 100_000
const nsName = (z: number) => `keelzone${z}-${tag}`
const hostIf = (z: number) => `kz${z}h${tag}`
const nsIf = (z: number) => `kz${z}n${tag}`
const address = (z: number, side: 1 | 2) => `10.211.${z}.${side}`
const PORTS = [8081, 8082, 8083]

const SERVER = `
const http = require('node:http')
const delay = Number(process.env.DELAY)
let ready = 0
for (const port of ${JSON.stringify(PORTS)}) {
  http.createServer((req, res) => {
    req.resume()
    const answer = () => res.end(process.env.ZONE)
    if (delay > 0) setTimeout(answer, delay)
    else answer()
  }).listen(port, process.env.HOST, () => { if (++ready === ${PORTS.length}) console.log('ready') })
}
`

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' })
const servers: ChildProcess[] = []
const created: number[] = []

async function setUpZone(z: number): Promise<void> {
  ip('netns', 'add', nsName(z))
  created.push(z)
  ip('link', 'add', hostIf(z), 'type', 'veth', 'peer', 'name', nsIf(z))
  ip('link', 'set', nsIf(z), 'netns', nsName(z))
  ip('addr', 'add', `${address(z, 1)}/24`, 'dev', hostIf(z))
  ip('link', 'set', hostIf(z), 'up')
  ip('-n', nsName(z), 'addr', 'add', `${address(z, 2)}/24`, 'dev', nsIf(z))
  ip('-n', nsName(z), 'link', 'set', nsIf(z), 'up')
  ip('-n', nsName(z), 'link', 'set', 'lo', 'up')
  const child = spawn('ip', ['netns', 'exec', nsName(z), process.execPath, '-e', SERVER], {
    env: { ...process.env, HOST: address(z, 2), ZONE: ZONES[z]!, DELAY: String(z === 0 ? 0 : CROSS_ZONE_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  servers.push(child)
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')])) as [Buffer | number]
  if (String(line).trim() !== 'ready') throw new Error(`zone ${ZONES[z]} server did not start (${String(line)})`)
}

async function tearDown(): Promise<void> {
  for (const child of servers.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  }
  // Deleting a namespace deletes its end of the veth pair, and with it the pair.
  for (const z of created.splice(0)) {
    try {
      ip('netns', 'del', nsName(z))
    } catch {}
    try {
      ip('link', 'del', hostIf(z))
    } catch {}
  }
}

const endpoints: EndpointInput[] = ZONES.flatMap((zone, z) =>
  PORTS.map((port) => ({ url: `http://${address(z, 2)}:${port}`, zone })),
)

/** `n` sequential GETs through `balancer`: each call's latency (ms) and the zone that answered. */
async function measure(balancer: Balancer, n: number): Promise<{ ms: number; zone: string }[]> {
  const out: { ms: number; zone: string }[] = []
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    const zone = await balancer.call(async (endpoint) => (await fetch(endpoint.resolve('/'))).text(), {
      idempotent: true,
    })
    out.push({ ms: performance.now() - start, zone })
  }
  return out
}

const p50 = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

describe('zones in network namespaces', () => {
  beforeAll(async () => {
    try {
      for (let z = 0; z < ZONES.length; z++) await setUpZone(z)
    } catch (error) {
      await tearDown()
      throw error
    }
  })
  afterAll(tearDown)

  it('cross-zone calls take the added delay; with localZone the p50 is the in-zone latency', async () => {
    const blind = new Balancer({ endpoints, picker: 'round-robin' })
    const aware = new Balancer({ endpoints, localZone: 'a' })
    try {
      await measure(blind, 18) // warm the connections
      await measure(aware, 18)
      // Interleaved, so both balancers see the same machine (it is shared and busy).
      const zoneBlind: { ms: number; zone: string }[] = []
      const local: { ms: number; zone: string }[] = []
      for (let i = 0; i < 120; i++) {
        zoneBlind.push(...(await measure(blind, 1)))
        local.push(...(await measure(aware, 1)))
      }
      const inZone = zoneBlind.filter((c) => c.zone === 'a').map((c) => c.ms)
      const crossZone = zoneBlind.filter((c) => c.zone !== 'a').map((c) => c.ms)
      expect(inZone.length).toBeGreaterThanOrEqual(35)
      expect(Math.min(...crossZone)).toBeGreaterThanOrEqual(CROSS_ZONE_MS - 1)
      expect(p50(inZone)).toBeLessThan(CROSS_ZONE_MS / 2)

      expect(local.filter((c) => c.zone !== 'a').length).toBeLessThanOrEqual(1) // a latency probe at most
      const localP50 = p50(local.map((c) => c.ms))
      // Same as in-zone latency: within 2 ms of the zone-blind balancer's in-zone p50.
      expect(Math.abs(localP50 - p50(inZone))).toBeLessThan(2)
      expect(localP50).toBeLessThan(CROSS_ZONE_MS / 2)
    } finally {
      await Promise.all([blind.close(), aware.close()])
    }
  })
})
