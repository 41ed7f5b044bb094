import { describe, expect, it } from 'vitest'
import { type DnsDiscoveryOptions, dnsDiscovery } from '../../src/discovery/dns.ts'
import type { DiscoveryUpdate, EndpointObject } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { FakeResolver } from './dns-fake-resolver.ts'

// dnsDiscovery's `zone` option: zones for zone-aware routing (docs/zones.md).

const SRV = '_http._tcp.users.internal'
const a = (address: string) => ({ address, ttl: 5 })

function setup(name: string, options: DnsDiscoveryOptions) {
  const clock = new ManualClock(0)
  const resolver = new FakeResolver(clock)
  const source = dnsDiscovery(name, { family: 4, clock, resolver, random: () => 0.5, ...options })
  const updates: DiscoveryUpdate[] = []
  const zones = () => (updates.at(-1)!.endpoints as EndpointObject[]).map((e) => [e.host, e.zone])
  return { clock, resolver, zones, watch: () => source.watch((u) => updates.push(u)) }
}

describe('dnsDiscovery: zones', () => {
  it('names the zone of SRV endpoints from their target', async () => {
    const { clock, resolver, zones, watch } = setup(SRV, { srv: true, zone: (target) => target.split('.')[1] })
    resolver.set('SRV', SRV, [
      { name: 'u1.us-east-1a.users.internal', port: 9000, priority: 0, weight: 1 },
      { name: 'u2.us-east-1b.users.internal', port: 9000, priority: 0, weight: 1 },
    ])
    resolver.set('A', 'u1.us-east-1a.users.internal', [a('10.0.0.1')])
    resolver.set('A', 'u2.us-east-1b.users.internal', [a('10.0.1.1')])
    watch()
    await clock.advance(0)
    expect(zones()).toEqual([
      ['10.0.0.1', 'us-east-1a'],
      ['10.0.1.1', 'us-east-1b'],
    ])
  })

  it('gives A/AAAA endpoints one zone, or one per address', async () => {
    const one = setup('users-a.internal', { port: 80, zone: 'a' })
    one.resolver.set('A', 'users-a.internal', [a('10.0.0.1'), a('10.0.0.2')])
    one.watch()
    await one.clock.advance(0)
    expect(one.zones()).toEqual([
      ['10.0.0.1', 'a'],
      ['10.0.0.2', 'a'],
    ])
    const bySubnet = setup('users.internal', { port: 80, zone: (_t, address) => `zone-${address.split('.')[2]}` })
    bySubnet.resolver.set('A', 'users.internal', [a('10.0.0.1'), a('10.0.1.1')])
    bySubnet.watch()
    await bySubnet.clock.advance(0)
    expect(bySubnet.zones()).toEqual([
      ['10.0.0.1', 'zone-0'],
      ['10.0.1.1', 'zone-1'],
    ])
  })

  it('rejects a zone that is neither a name nor a function', () => {
    expect(() => dnsDiscovery('users.internal', { zone: 3 as never })).toThrow(/`zone`.*3/)
    expect(() => dnsDiscovery('users.internal', { zone: '' })).toThrow(/`zone`/)
  })
})
