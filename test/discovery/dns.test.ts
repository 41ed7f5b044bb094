import { describe, expect, it } from 'vitest'
import { type DnsDiscoveryOptions, dnsDiscovery } from '../../src/discovery/dns.ts'
import { Balancer, DiscoveryError, type DiscoveryUpdate, type EndpointObject } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { trackTimers } from '../helpers/live-timers.ts'
import { FakeResolver } from './dns-fake-resolver.ts'

const NAME = 'users.internal'
const a = (address: string, ttl = 5) => ({ address, ttl })

function setup(options: DnsDiscoveryOptions = {}, name = NAME) {
  const clock = new ManualClock(0)
  const resolver = new FakeResolver(clock)
  const source = dnsDiscovery(name, { port: 8080, family: 4, clock, resolver, random: () => 0.5, ...options })
  const updates: DiscoveryUpdate[] = []
  const watch = () => source.watch((u) => updates.push(u))
  return { clock, resolver, source, updates, watch }
}

const hosts = (u: DiscoveryUpdate | undefined) => (u?.endpoints as EndpointObject[] | undefined)?.map((e) => e.host)

describe('dnsDiscovery: A/AAAA', () => {
  it('turns each address into an endpoint named after the service', async () => {
    const { resolver, updates, watch, clock } = setup()
    resolver.set('A', NAME, [a('10.0.0.1'), a('10.0.0.2')])
    watch()
    await clock.advance(0)
    expect(updates).toEqual([
      {
        endpoints: [
          { protocol: 'http:', host: '10.0.0.1', port: 8080, servername: NAME },
          { protocol: 'http:', host: '10.0.0.2', port: 8080, servername: NAME },
        ],
      },
    ])
  })

  it('looks up again when the TTL runs out, within minInterval and maxInterval', async () => {
    const { resolver, watch, clock } = setup({ minInterval: 1_000, maxInterval: 30_000 })
    resolver.set('A', NAME, [a('10.0.0.1', 5), a('10.0.0.2', 3)])
    watch()
    await clock.advance(6_000)
    expect(resolver.times('A')).toEqual([0, 3_000, 6_000])
    resolver.set('A', NAME, [a('10.0.0.1', 0)])
    await clock.advance(5_000)
    expect(resolver.times('A')).toEqual([0, 3_000, 6_000, 9_000, 10_000, 11_000])
    resolver.set('A', NAME, [a('10.0.0.1', 3_600)])
    await clock.advance(70_000)
    expect(resolver.times('A').slice(6)).toEqual([12_000, 42_000, 72_000])
  })

  it('keeps the last set on errors, backs off from minInterval to maxInterval with jitter, and recovers', async () => {
    const { resolver, updates, watch, clock } = setup({ minInterval: 1_000, maxInterval: 8_000 })
    resolver.set('A', NAME, [a('10.0.0.1', 1)])
    watch()
    await clock.advance(0)
    resolver.set('A', NAME, { code: 'ECONNREFUSED' })
    await clock.advance(20_000)
    // random 0.5: each wait is 3/4 of min(8 s, 1 s × 2^(failures-1)), never under 1 s.
    expect(resolver.times('A')).toEqual([0, 1_000, 2_000, 3_500, 6_500, 12_500, 18_500])
    expect(updates[1]!.error).toBeInstanceOf(DiscoveryError)
    expect((updates[1]!.error as DiscoveryError).message).toMatch(
      /DNS A lookup of users\.internal failed \(ECONNREFUSED\)/,
    )
    expect(((updates[1]!.error as Error).cause as { code: string }).code).toBe('ECONNREFUSED')
    resolver.set('A', NAME, [a('10.0.0.2', 1)])
    await clock.advance(4_499)
    expect(resolver.times('A').slice(7)).toEqual([])
    await clock.advance(2_001)
    expect(resolver.times('A').slice(7)).toEqual([24_500, 25_500, 26_500])
    expect(hosts(updates.at(-1))).toEqual(['10.0.0.2'])
  })

  it('reports NXDOMAIN and NODATA as an empty answer, retried with backoff', async () => {
    const { resolver, updates, watch, clock } = setup({ minInterval: 1_000 })
    watch()
    await clock.advance(2_500)
    expect(updates).toEqual([{ endpoints: [] }, { endpoints: [] }, { endpoints: [] }])
    expect(resolver.times('A')).toEqual([0, 1_000, 2_500])
  })

  it('asks A and AAAA with family 0 and takes what either found', async () => {
    const { resolver, updates, watch, clock } = setup({ family: 0 })
    resolver.set('A', NAME, [a('10.0.0.1', 9)])
    resolver.set('AAAA', NAME, [a('FD00::1', 4)])
    watch()
    await clock.advance(0)
    expect(hosts(updates[0])).toEqual(['10.0.0.1', 'fd00::1'])
    resolver.set('AAAA', NAME, { code: 'ENODATA' })
    await clock.advance(4_000)
    expect(hosts(updates[1])).toEqual(['10.0.0.1'])
    resolver.set('AAAA', NAME, { code: 'ETIMEOUT' })
    await clock.advance(9_000)
    expect(hosts(updates[2])).toEqual(['10.0.0.1'])
    resolver.set('A', NAME, { code: 'ENOTFOUND' })
    await clock.advance(9_000)
    expect(updates[3]!.error).toBeInstanceOf(DiscoveryError)
    expect(String(updates[3]!.error)).toMatch(/AAAA lookup .* \(ETIMEOUT\)/)
  })

  it('asks only AAAA with family 6, and only A with family 4', async () => {
    const six = setup({ family: 6 })
    six.resolver.set('AAAA', NAME, [a('::1')])
    six.watch()
    await six.clock.advance(0)
    expect(six.resolver.log).toEqual([`AAAA ${NAME} @0`])
    const four = setup({ family: 4 })
    four.watch()
    await four.clock.advance(0)
    expect(four.resolver.log).toEqual([`A ${NAME} @0`])
  })

  it('uses protocol default ports and the given servername; an IP name gives no servername', async () => {
    const https = setup({ protocol: 'https:', port: undefined as never, servername: 'api.example.com' })
    https.resolver.set('A', NAME, [a('10.0.0.1')])
    https.watch()
    await https.clock.advance(0)
    expect(https.updates[0]!.endpoints).toEqual([
      { protocol: 'https:', host: '10.0.0.1', port: 443, servername: 'api.example.com' },
    ])
    const ip = setup({}, '10.1.2.3')
    ip.watch()
    await ip.clock.advance(0)
    expect(ip.updates[0]!.endpoints).toEqual([{ protocol: 'http:', host: '10.1.2.3', port: 8080 }])
    expect(ip.resolver.log).toEqual([])
  })
})

describe('dnsDiscovery: refresh(), watchers and dispose', () => {
  it('refresh() looks up minInterval after the last lookup started, not sooner', async () => {
    const { resolver, source, watch, clock } = setup({ minInterval: 1_000 })
    resolver.set('A', NAME, [a('10.0.0.1', 20)])
    watch()
    await clock.advance(300)
    source.refresh()
    source.refresh()
    await clock.advance(699)
    expect(resolver.times('A')).toEqual([0])
    await clock.advance(1)
    expect(resolver.times('A')).toEqual([0, 1_000])
    await clock.advance(5_000)
    source.refresh()
    await clock.advance(0)
    expect(resolver.times('A')).toEqual([0, 1_000, 6_000])
    await clock.advance(20_000)
    expect(resolver.times('A')).toEqual([0, 1_000, 6_000, 26_000])
  })

  it('refresh() does nothing while a lookup runs or during an error backoff', async () => {
    const { resolver, source, watch, clock } = setup({ minInterval: 1_000 })
    let answer!: (records: unknown[]) => void
    resolver.set('A', NAME, () => new Promise((r) => (answer = r)))
    watch()
    await clock.advance(5_000)
    source.refresh()
    answer([a('10.0.0.1', 20)])
    await clock.advance(0)
    expect(resolver.times('A')).toEqual([0])
    resolver.set('A', NAME, { code: 'ESERVFAIL' })
    await clock.advance(21_000)
    expect(resolver.times('A')).toEqual([0, 25_000, 26_000])
    // The second failure waits 1.5 s; a refresh() would have moved it to 27 s.
    source.refresh()
    await clock.advance(1_499)
    expect(resolver.times('A')).toEqual([0, 25_000, 26_000])
    await clock.advance(1)
    expect(resolver.times('A')).toEqual([0, 25_000, 26_000, 27_500])
  })

  it('shares one schedule between watchers and gives a late watcher the last good set', async () => {
    const { resolver, source, updates, watch, clock } = setup()
    resolver.set('A', NAME, [a('10.0.0.1', 5)])
    const stopFirst = watch()
    await clock.advance(1_000)
    const late: DiscoveryUpdate[] = []
    const stopLate = source.watch((u) => late.push(u))
    await clock.advance(0)
    expect(hosts(late[0])).toEqual(['10.0.0.1'])
    await clock.advance(4_000)
    expect(resolver.times('A')).toEqual([0, 5_000])
    expect(updates).toHaveLength(2)
    expect(late).toHaveLength(2)
    stopFirst()
    stopFirst()
    await clock.advance(5_000)
    expect(late).toHaveLength(3)
    stopLate()
    expect(clock.pending).toBe(0)
  })

  it('leaves no live timer after dispose on the system clock', async () => {
    const timers = trackTimers()
    timers.start()
    try {
      const resolver = new FakeResolver(new ManualClock(0)).set('A', NAME, [a('10.0.0.1', 5)])
      const updates: DiscoveryUpdate[] = []
      const stop = dnsDiscovery(NAME, { resolver, family: 4 }).watch((u) => updates.push(u))
      await new Promise<void>((resolve) => setImmediate(resolve))
      expect(updates).toHaveLength(1)
      expect(timers.live(), timers.where()).toBe(1)
      stop()
      await new Promise<void>((resolve) => setImmediate(resolve))
      expect(timers.live(), timers.where()).toBe(0)
    } finally {
      timers.stop()
    }
  })

  it('stops every timer on dispose and drops the answer of a lookup in flight', async () => {
    const { resolver, updates, watch, clock } = setup()
    let answer!: (records: unknown[]) => void
    resolver.set('A', NAME, () => new Promise((r) => (answer = r)))
    const stop = watch()
    await clock.advance(0)
    stop()
    answer([a('10.0.0.1')])
    await clock.advance(60_000)
    expect(updates).toEqual([])
    expect(clock.pending).toBe(0)
    expect(resolver.times('A')).toEqual([0])
  })
})

describe('dnsDiscovery: SRV', () => {
  const SRV = '_http._tcp.users.internal'

  it('maps SRV priorities to levels by rank and weights to weights, one endpoint per target address', async () => {
    const { resolver, updates, watch, clock } = setup({ srv: true, port: undefined as never }, SRV)
    resolver.set('SRV', SRV, [
      { name: 'b.users.internal', port: 9001, priority: 20, weight: 0 },
      { name: 'a.users.internal', port: 9000, priority: 10, weight: 3 },
      { name: 'c.users.internal', port: 9000, priority: 10, weight: 1 },
      { name: '.', port: 9000, priority: 5, weight: 1 },
      { name: 'gone.users.internal', port: 9000, priority: 10, weight: 1 },
      { name: '10.0.0.9', port: 9002, priority: 30, weight: 2 },
    ])
    resolver.set('A', 'a.users.internal', [a('10.0.0.1'), a('10.0.0.2')])
    resolver.set('A', 'b.users.internal', [a('10.0.0.3')])
    // The same address as a.users.internal, on the same port: one endpoint, the first record's.
    resolver.set('A', 'c.users.internal', [a('10.0.0.1')])
    watch()
    await clock.advance(0)
    const ep = (host: string, port: number, weight: number, priority: number) => ({
      protocol: 'http:',
      host,
      port,
      weight,
      priority,
      servername: 'users.internal',
    })
    expect(updates[0]!.endpoints).toEqual([
      ep('10.0.0.1', 9000, 3, 0),
      ep('10.0.0.2', 9000, 3, 0),
      ep('10.0.0.3', 9001, 1, 1),
      ep('10.0.0.9', 9002, 2, 2),
    ])
  })

  it('refreshes SRV answers every maxInterval and fails the lookup when a target fails', async () => {
    const { resolver, updates, watch, clock } = setup({ srv: true, port: undefined as never, maxInterval: 10_000 }, SRV)
    resolver.set('SRV', SRV, [{ name: 'a.users.internal', port: 9000, priority: 0, weight: 1 }])
    resolver.set('A', 'a.users.internal', [a('10.0.0.1', 1)])
    watch()
    await clock.advance(10_000)
    expect(resolver.times('SRV')).toEqual([0, 10_000])
    resolver.set('A', 'a.users.internal', { code: 'ETIMEOUT' })
    await clock.advance(10_000)
    expect(String(updates[2]!.error)).toMatch(/A lookup of a\.users\.internal failed \(ETIMEOUT\)/)
    resolver.set('SRV', SRV, { code: 'EREFUSED' })
    await clock.advance(1_000)
    expect(String(updates[3]!.error)).toMatch(/SRV lookup of _http\._tcp\.users\.internal failed \(EREFUSED\)/)
  })
})

describe('dnsDiscovery: options', () => {
  it('rejects bad options with messages naming them', () => {
    expect(() => dnsDiscovery('')).toThrow(/`name`/)
    expect(() => dnsDiscovery('http://users:80')).toThrow(/`name` to be a DNS name/)
    expect(() => dnsDiscovery(NAME, { prot: 'http:' } as never)).toThrow(/Unknown option `prot`/)
    expect(() => dnsDiscovery(NAME, { protocol: 'tcp:' })).toThrow(/`port`/)
    expect(() => dnsDiscovery(NAME, { srv: true, port: 80 })).toThrow(/`port` to be absent with `srv`/)
    expect(() => dnsDiscovery(NAME, { family: 5 as never })).toThrow(/`family` to be one of 0, 4, 6, got 5/)
    expect(() => dnsDiscovery(NAME, { minInterval: 0 })).toThrow(/`minInterval`/)
    expect(() => dnsDiscovery(NAME, { minInterval: 5_000, maxInterval: 1_000 })).toThrow(/`maxInterval`.*≥ minInterval/)
    expect(() => dnsDiscovery(NAME, { servers: ['not an address'] })).toThrow(/`servers`/)
    expect(() => dnsDiscovery(NAME, { servers: [] })).toThrow(/`servers`/)
    expect(() => dnsDiscovery(NAME, { servername: 'bad name' })).toThrow(/servername/)
    expect(() => dnsDiscovery(NAME, { resolver: {} as never })).toThrow(/`resolver\.resolve4`/)
    expect(dnsDiscovery(NAME, { servers: ['127.0.0.1:5353', '[::1]:53'] }).name).toBe(NAME)
  })
})

describe('dnsDiscovery in a balancer', () => {
  it('looks up again early when every endpoint is ejected, no sooner than minInterval', async () => {
    const clock = new ManualClock(0)
    const resolver = new FakeResolver(clock).set('A', NAME, [a('10.0.0.1', 60)])
    const discovery = dnsDiscovery(NAME, { port: 8080, family: 4, clock, resolver, minInterval: 2_000 })
    const balancer = new Balancer({ discovery, clock, retry: false, breaker: { volumeThreshold: 1 } })
    await clock.advance(500)
    resolver.set('A', NAME, [a('10.0.0.2', 60)])
    const refused = () => {
      throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
    }
    await balancer.call(refused).catch(() => {})
    await clock.advance(1_499)
    expect(resolver.times('A')).toEqual([0])
    await clock.advance(1)
    expect(resolver.times('A')).toEqual([0, 2_000])
    expect(balancer.endpoints.map((e) => e.host)).toEqual(['10.0.0.2'])
    await balancer.close()
  })

  it('follows membership: new addresses start, missing ones drain, errors keep the set', async () => {
    const clock = new ManualClock(0)
    const resolver = new FakeResolver(clock)
    resolver.set('A', NAME, [a('10.0.0.1', 1), a('10.0.0.2', 1)])
    const discovery = dnsDiscovery(NAME, { port: 8080, family: 4, clock, resolver })
    const balancer = new Balancer({ discovery, clock })
    const events: string[] = []
    balancer.on('endpointAdded', ({ endpoint }) => events.push(`+${endpoint.host}`))
    balancer.on('endpointRemoved', ({ endpoint }) => events.push(`-${endpoint.host}`))
    balancer.on('discoveryError', () => events.push('error'))
    await expect(balancer.call((e) => e.servername)).resolves.toBe(NAME)
    resolver.set('A', NAME, [a('10.0.0.2', 1), a('10.0.0.3', 1)])
    await clock.advance(1_000)
    resolver.set('A', NAME, { code: 'ECONNREFUSED' })
    await clock.advance(1_000)
    expect(events).toEqual(['+10.0.0.1', '+10.0.0.2', '-10.0.0.1', '+10.0.0.3', 'error'])
    expect(balancer.endpoints.map((e) => e.id).sort()).toEqual(['http://10.0.0.2:8080', 'http://10.0.0.3:8080'])
    await balancer.close()
    expect(clock.pending).toBe(0)
  })
})
