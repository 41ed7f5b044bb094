import { isIP } from 'node:net'
import type { EndpointObject, EndpointProtocol } from '../model/endpoint.ts'
import { MAX_PRIORITY } from '../model/endpoint.ts'
import { DiscoveryError } from '../model/errors.ts'
import type { PollAnswer } from './poller.ts'

/**
 * The part of `node:dns/promises`' `Resolver` keel uses; a `Resolver` is one. Tests and custom
 * resolvers (a caching layer, DNS over HTTPS) can pass any object with these methods.
 */
export interface DnsResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>
  resolve6(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>
  resolveSrv(hostname: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>
}

export interface LookupSettings {
  readonly name: string
  readonly srv: boolean
  readonly family: 0 | 4 | 6
  readonly protocol: EndpointProtocol
  /** Port of A/AAAA endpoints (SRV records carry their own). */
  readonly port: number
  /** TLS/`Host` name of the endpoints (none when the name is an IP address). */
  readonly servername: string | undefined
  /** The zone of an endpoint, from its record's target name and address. */
  readonly zoneOf: ((target: string, address: string) => string | undefined) | undefined
}

interface Addresses {
  readonly addresses: string[]
  /** Smallest TTL among the records, in s; undefined when there were none. */
  readonly ttl: number | undefined
}

/** NXDOMAIN and "no records of this type": an empty answer, not a failure. */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA'])

function notFound(error: unknown): boolean {
  return NOT_FOUND.has((error as { code?: string } | null)?.code ?? '')
}

/** One lookup of `settings.name`: A/AAAA records, or SRV records and their targets' addresses. */
export async function dnsLookup(resolver: DnsResolver, settings: LookupSettings): Promise<PollAnswer> {
  if (!settings.srv) {
    const { addresses, ttl } = await resolveAddresses(resolver, settings.name, settings.family)
    const endpoints = addresses.map(
      (host): EndpointObject => ({
        protocol: settings.protocol,
        host,
        port: settings.port,
        ...named(settings),
        ...zoned(settings, settings.name, host),
      }),
    )
    return { endpoints, ttlMs: ttl === undefined ? undefined : ttl * 1000 }
  }
  return { endpoints: await srvEndpoints(resolver, settings), ttlMs: undefined }
}

/**
 * SRV (RFC 2782): each record's target is resolved to addresses (A/AAAA per `family`) and each
 * address becomes an endpoint on the record's port. SRV priorities become priority levels by
 * rank (the lowest SRV priority is level 0, the next level 1, ...), weights become weights (a
 * weight of 0, "very small chance", becomes 1). An address listed by several records keeps the
 * record of the lowest priority. A target of "." (service not offered) is skipped; a target that
 * no longer resolves is skipped; any other failure fails the whole lookup (the last set stays).
 */
async function srvEndpoints(resolver: DnsResolver, settings: LookupSettings): Promise<EndpointObject[]> {
  let records: Awaited<ReturnType<DnsResolver['resolveSrv']>>
  try {
    records = await resolver.resolveSrv(settings.name)
  } catch (error) {
    if (notFound(error)) return []
    throw lookupError(settings.name, 'SRV', error)
  }
  records = records.filter((r) => r.name !== '' && r.name !== '.')
  const ranks = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b)
  // Every target at once; Promise.all handles every rejection (no unhandled one when two fail).
  const names = [...new Set(records.map((r) => r.name))]
  const answers = await Promise.all(names.map((target) => resolveAddresses(resolver, target, settings.family)))
  const resolved = new Map(names.map((target, i) => [target, answers[i]!]))
  const byId = new Map<string, EndpointObject>()
  for (const record of [...records].sort((a, b) => a.priority - b.priority)) {
    for (const host of resolved.get(record.name)!.addresses) {
      const id = `${host}|${record.port}`
      if (byId.has(id)) continue
      byId.set(id, {
        protocol: settings.protocol,
        host,
        port: record.port,
        weight: Math.max(1, record.weight),
        priority: Math.min(MAX_PRIORITY, ranks.indexOf(record.priority)),
        ...named(settings),
        ...zoned(settings, record.name, host),
      })
    }
  }
  return [...byId.values()]
}

/**
 * A and/or AAAA records of `name` (an IP literal stands for itself). With `family` 0 both are
 * asked; the answer is what either found, and fails only when neither found anything and one
 * failed for another reason than "no such records".
 */
async function resolveAddresses(resolver: DnsResolver, name: string, family: 0 | 4 | 6): Promise<Addresses> {
  if (isIP(name) !== 0) return { addresses: [name.toLowerCase()], ttl: undefined }
  const queries: Promise<{ address: string; ttl: number }[]>[] = []
  if (family !== 6) queries.push(resolver.resolve4(name, { ttl: true }))
  if (family !== 4) queries.push(resolver.resolve6(name, { ttl: true }))
  const results = await Promise.allSettled(queries)
  const addresses: string[] = []
  let ttl: number | undefined
  let failure: unknown
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      if (!notFound(result.reason) && failure === undefined) {
        failure = lookupError(name, family === 6 || i === 1 ? 'AAAA' : 'A', result.reason)
      }
      return
    }
    for (const record of result.value) {
      const address = record.address.toLowerCase()
      if (!addresses.includes(address)) addresses.push(address)
      ttl = ttl === undefined ? record.ttl : Math.min(ttl, record.ttl)
    }
  })
  if (addresses.length === 0 && failure !== undefined) throw failure
  return { addresses, ttl }
}

function named(settings: LookupSettings): { servername?: string } {
  return settings.servername === undefined ? {} : { servername: settings.servername }
}

/** The endpoint's zone, when `zone` gives one (a bad value fails the snapshot, naming `discovery[i].zone`). */
function zoned(settings: LookupSettings, target: string, address: string): { zone?: string } {
  const zone = settings.zoneOf?.(target, address)
  return zone === undefined ? {} : { zone }
}

function lookupError(name: string, type: string, cause: unknown): DiscoveryError {
  const code = (cause as { code?: string } | null)?.code
  const detail = code ?? (cause instanceof Error ? cause.message : String(cause))
  return new DiscoveryError(`DNS ${type} lookup of ${name} failed (${detail})`, { cause })
}
