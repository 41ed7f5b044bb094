// Shared health over a real redis-server: balancers in this process, real HTTP backends.
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import {
  attachSharedHealth,
  redisSharedHealth,
  SHARED_HEALTH_DROPPED,
  SHARED_HEALTH_PARTITIONED,
} from '../../src/addons/redis/index.ts'
import { Balancer, type EjectedEvent, type SharedHealthErrorEvent, type WarningEvent } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import { startServers, type TestServer } from '../helpers/servers.ts'

const cleanups = cleanupsAfterEach()

async function backends(n: number): Promise<TestServer[]> {
  const servers = await startServers(n)
  cleanups.push(() => Promise.all(servers.map((s) => s.close())).then(() => {}))
  return servers
}

async function redis(port?: number): Promise<RedisServer> {
  const server = await startRedisServer(port)
  cleanups.push(() => server.stop())
  return server
}

let services = 0
/** A balancer over `servers`; with `url`, sharing health on `service`. */
function instance(servers: readonly TestServer[], url?: string, service?: string, extra = {}, asOption = false) {
  const sharing = url === undefined ? undefined : { url, service: service!, reportInterval: 100, requestVolume: 20 }
  const b = new Balancer({
    endpoints: servers.map((s) => s.url),
    picker: 'round-robin',
    retry: false,
    // No re-admission probe: exact counts however slow the machine (probes: the unit tests).
    outlierDetection: { consecutiveFailures: 5, baseEjectionTime: 30_000, readmission: false },
    // The balancer option: the balancer attaches it and its close() stops it.
    ...(asOption && sharing ? { sharedHealth: redisSharedHealth(sharing) } : {}),
    ...extra,
  })
  cleanups.push(() => b.close())
  const handle = asOption || sharing === undefined ? undefined : attachSharedHealth(b, sharing)
  if (handle) cleanups.push(() => handle.close())
  /** Attempts this instance sent, per backend port. */
  const sent = new Map<number, number>()
  let failed = 0
  const call = (fail = false) =>
    b
      .call(async (endpoint) => {
        sent.set(endpoint.port, (sent.get(endpoint.port) ?? 0) + 1)
        if (fail) throw Object.assign(new Error('HTTP 503 (rogue)'), { status: 503 })
        const res = await fetch(endpoint.resolve('/'))
        await res.text()
        if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
      })
      .catch(() => {
        failed++
      })
  return {
    b,
    handle,
    sent,
    get failed() {
      return failed
    },
    async calls(n: number, fail = false) {
      for (let i = 0; i < n; i++) await call(fail)
    },
  }
}

const ejectedBy = (b: Balancer, detector: string, endpointId?: string) =>
  new Promise<EjectedEvent>((resolve) => {
    const on = (e: EjectedEvent) => {
      if (e.detector !== detector || (endpointId !== undefined && e.endpoint.id !== endpointId)) return
      b.off('ejected', on)
      resolve(e)
    }
    b.on('ejected', on)
  })

const warned = (b: Balancer, code: string, match?: RegExp) =>
  new Promise<WarningEvent>((resolve) => {
    const on = (e: WarningEvent) => {
      if (e.code !== code || (match !== undefined && !match.test(e.message))) return
      b.off('warning', on)
      resolve(e)
    }
    b.on('warning', on)
  })

describe('shared health over a real redis-server', () => {
  it('five instances over four backends, one answering 503: once two ejected it, the other three send it 0 attempts (isolated instances: 5 each)', async () => {
    const r = await redis()
    const servers = await backends(4)
    const bad = servers[3]!
    bad.handle((_req, res) => {
      res.statusCode = 503
      res.end('down')
    })
    const service = `svc-${++services}`
    // The two that find it take shared health as the balancer option; the three told attach it.
    const shared = Array.from({ length: 5 }, (_, i) => instance(servers, r.url, service, {}, i < 2))
    const isolated = Array.from({ length: 3 }, () => instance(servers))
    await Promise.all(shared.slice(2).map((s) => s.handle!.subscribed))
    const badId = shared[0]!.b.endpoints.find((e) => e.port === bad.port)!.id
    const told = shared.slice(2).map((s) => ejectedBy(s.b, 'shared', badId))

    // Two instances find it on their own: 5 consecutive failures each.
    for (const s of shared.slice(0, 2)) {
      const own = ejectedBy(s.b, 'outlier', badId)
      await s.calls(20)
      await own
    }
    const events = await Promise.all(told)
    expect(events.map((e) => e.reason)).toEqual(Array(3).fill('shared health: 2 instances ejected it'))

    for (const s of [...shared.slice(2), ...isolated]) await s.calls(40)
    const toBad = (list: typeof shared) => list.map((s) => s.sent.get(bad.port) ?? 0)
    expect(toBad(shared.slice(0, 2))).toEqual([5, 5])
    expect(toBad(shared.slice(2))).toEqual([0, 0, 0])
    expect(toBad(isolated)).toEqual([5, 5, 5])
    // And the healthy three took every call of the told instances.
    for (const s of shared.slice(2)) expect(s.failed).toBe(0)
  }, 10_000)

  it('a rogue instance whose calls all fail cannot eject a healthy endpoint elsewhere, and is told it looks partitioned', async () => {
    const r = await redis()
    const servers = await backends(4)
    const service = `svc-${++services}`
    const healthy = Array.from({ length: 2 }, () => instance(servers, r.url, service))
    const rogue = instance(servers, r.url, service, { maxEjectionPercent: 100 })
    await Promise.all([...healthy, rogue].map((s) => s.handle!.subscribed))
    const sharedEjections: EjectedEvent[] = []
    for (const s of healthy) s.b.on('ejected', (e) => sharedEjections.push(e))

    const partitioned = warned(rogue.b, SHARED_HEALTH_PARTITIONED)
    // The rogue ejects every endpoint on its own and reports only failures.
    const rogueEjections: EjectedEvent[] = []
    rogue.b.on('ejected', (e) => rogueEjections.push(e))
    await rogue.calls(40, true)
    expect(rogueEjections.filter((e) => e.detector === 'outlier')).toHaveLength(4)
    // Meanwhile the healthy instances keep calling, until the rogue has heard their counts.
    let done = false
    void partitioned.then(() => {
      done = true
    })
    while (!done) {
      await Promise.all(healthy.map((s) => s.calls(5)))
      await rogue.calls(5, true)
    }
    expect((await partitioned).message).toMatch(/^this instance looks partitioned: all \d+ of its attempts failed/)
    // One more report round from the rogue reaches the healthy ones; still nothing ejected there.
    await Promise.all(healthy.map((s) => s.calls(40)))
    expect(sharedEjections).toEqual([])
    for (const s of healthy) expect(s.failed).toBe(0)
  }, 10_000)

  it('Redis killed mid-run and restarted: 0 failed calls, sharedHealthError, then shared ejections resume', async () => {
    let r = await redis()
    const port = r.port
    const servers = await backends(4)
    const service = `svc-${++services}`
    const shared = Array.from({ length: 3 }, () => instance(servers, r.url, service))
    await Promise.all(shared.map((s) => s.handle!.subscribed))
    const errors = shared.map(
      (s) => new Promise<SharedHealthErrorEvent>((resolve) => s.b.once('sharedHealthError', resolve)),
    )
    await Promise.all(shared.map((s) => s.calls(10)))
    await r.stop()
    const first = await Promise.race(errors)
    expect(first.code).toBe('KEEL_SHARED_HEALTH_ERROR')
    // Calls go on as without sharing while Redis is down.
    await Promise.all(shared.map((s) => s.calls(20)))
    expect(shared.map((s) => s.failed)).toEqual([0, 0, 0])

    r = await redis(port)
    // The backend turns bad after the restart: two instances eject it, the third is told.
    const bad = servers[3]!
    bad.handle((_req, res) => {
      res.statusCode = 503
      res.end('down')
    })
    const badId = shared[0]!.b.endpoints.find((e) => e.port === bad.port)!.id
    const told = ejectedBy(shared[2]!.b, 'shared', badId)
    for (const s of shared.slice(0, 2)) {
      const own = ejectedBy(s.b, 'outlier', badId)
      await s.calls(20)
      await own
    }
    await told
    const before = shared[2]!.sent.get(bad.port) ?? 0
    await shared[2]!.calls(20)
    expect((shared[2]!.sent.get(bad.port) ?? 0) - before).toBe(0)
  }, 10_000)

  it('malformed, oversized and foreign-endpoint messages published straight into the channel are dropped with a warning', async () => {
    const r = await redis()
    const servers = await backends(2)
    const service = `svc-${++services}`
    const s = instance(servers, r.url, service)
    await s.handle!.subscribed
    const raw = new Redis(r.url)
    cleanups.push(() => raw.disconnect())
    const channel = `keel:health:${service}`
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      [JSON.stringify({ v: 1, from: 'x', kind: 'counts', counts: {}, pad: 'x'.repeat(20_000) }), /oversized/],
      [
        JSON.stringify({
          v: 1,
          from: 'x',
          kind: 'ejected',
          endpoint: 'http://10.9.9.9:1',
          detector: 'outlier',
          reason: 'r',
        }),
        /endpoint is not a member/,
      ],
      [JSON.stringify({ v: 2, from: 'x' }), /unknown version/],
      [JSON.stringify({ v: 1, from: 'x', kind: 'counts', counts: { [s.b.endpoints[0]!.id]: [-1, 2] } }), /bad counts/],
    ]
    const ejections: EjectedEvent[] = []
    s.b.on('ejected', (e) => ejections.push(e))
    for (const [message, why] of cases) {
      const warning = warned(s.b, SHARED_HEALTH_DROPPED, why)
      await raw.publish(channel, message)
      expect((await warning).message).toMatch(new RegExp(`^shared health dropped a message on '${service}': `))
    }
    expect(ejections).toEqual([])
    // Calls are unaffected.
    await s.calls(10)
    expect(s.failed).toBe(0)
  }, 10_000)

  it('with `client`: keel connects duplicates of it (never the client itself) and closes them', async () => {
    const r = await redis()
    const servers = await backends(2)
    const client = new Redis(r.url, { lazyConnect: true })
    cleanups.push(() => client.disconnect())
    const b = new Balancer({ endpoints: servers.map((s) => s.url) })
    cleanups.push(() => b.close())
    const handle = attachSharedHealth(b, { client, service: `svc-${++services}` })
    await handle.subscribed
    expect(client.status).toBe('wait')
    const probe = new Redis(r.url)
    cleanups.push(() => probe.disconnect())
    // The probe itself and keel's two connections.
    expect(((await probe.client('LIST')) as string).trim().split('\n')).toHaveLength(3)
    await b.close()
    // The server sees the two connections close a moment later: ask it until it does.
    const deadline = Date.now() + 2_000
    let lines = 3
    while (lines !== 1 && Date.now() < deadline) {
      lines = ((await probe.client('LIST')) as string).trim().split('\n').length
    }
    expect(lines).toBe(1)
  }, 10_000)

  it('with a Redis ACL user limited to its channel and keys (the ACL of docs/shared-health.md); a wrong password only emits sharedHealthError', async () => {
    const r = await redis()
    const admin = new Redis(r.url)
    cleanups.push(() => admin.disconnect())
    await admin.call(
      'ACL',
      ...'SETUSER keel on >s3cret resetchannels &keel:health:* ~keel:health:* +publish +subscribe +set +del +scan +mget +ping +info'.split(
        ' ',
      ),
    )
    const servers = await backends(4)
    const bad = servers[3]!
    bad.handle((_req, res) => {
      res.statusCode = 503
      res.end('down')
    })
    const service = `svc-${++services}`
    const make = (password: string) => {
      const b = new Balancer({
        endpoints: servers.map((s) => s.url),
        picker: 'round-robin',
        retry: false,
        outlierDetection: { consecutiveFailures: 5, readmission: false },
      })
      cleanups.push(() => b.close())
      const handle = attachSharedHealth(b, { url: r.url, username: 'keel', password, service, reportInterval: 100 })
      return { b, handle }
    }
    const [one, two, three] = [make('s3cret'), make('s3cret'), make('s3cret')]
    const wrong = make('nope')
    const denied = new Promise<SharedHealthErrorEvent>((resolve) => wrong.b.once('sharedHealthError', resolve))
    await Promise.all([one, two, three].map((i) => i.handle.subscribed))
    const badId = one.b.endpoints[3]!.id
    const told = ejectedBy(three.b, 'shared', badId)
    for (const i of [one, two]) {
      for (let k = 0; k < 20; k++) {
        await i.b
          .call(async (endpoint) => {
            const res = await fetch(endpoint.resolve('/'))
            await res.text()
            if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
          })
          .catch(() => {})
      }
    }
    expect((await told).reason).toBe('shared health: 2 instances ejected it')
    expect((await denied).message).toMatch(/WRONGPASS|invalid username-password/)
    // The instance with the wrong password still calls as without sharing.
    await wrong.b.call(async () => 'ok')
  }, 10_000)
})
