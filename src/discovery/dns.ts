// Entry point `keel/dns`: endpoints from DNS A/AAAA or SRV records, following the TTL.
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import { type Clock, systemClock } from '../internal/clock.ts'
import { type Random, systemRandom } from '../internal/random.ts'
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  isPlainObject,
  rangeError,
  rejectUnknownKeys,
  typeError,
} from '../internal/validate.ts'
import { type EndpointProtocol, parseEndpoint } from '../model/endpoint.ts'
import type { Discovery } from './discovery.ts'
import { type DnsResolver, dnsLookup } from './dns-lookup.ts'
import { Poller } from './poller.ts'

export type { DnsResolver } from './dns-lookup.ts'

export interface DnsDiscoveryOptions {
  /**
   * Port of every endpoint found by A/AAAA lookups (SRV records carry their own port).
   * @default 80 for 'http:' and 'grpc:', 443 for 'https:' and 'grpcs:' (required for 'tcp:')
   */
  readonly port?: number
  /** Protocol of the endpoints. @default 'http:' */
  readonly protocol?: EndpointProtocol
  /** Look up SRV records (`_http._tcp.users.internal`) instead of A/AAAA. @default false */
  readonly srv?: boolean
  /** 4: A records only; 6: AAAA only; 0: both (an address from either is an endpoint). @default 0 */
  readonly family?: 0 | 4 | 6
  /** DNS servers to ask, as `'10.0.0.2'`, `'127.0.0.1:5353'` or `'[::1]:53'`. @default the system's (resolv.conf) */
  readonly servers?: readonly string[]
  /** The least time between two lookups, in ms: a TTL under it, and `refresh()` calls, wait for it. @default 1_000 */
  readonly minInterval?: number
  /** The most time between two lookups, in ms: SRV answers (no TTL) and long TTLs refresh this often. @default 30_000 */
  readonly maxInterval?: number
  /**
   * TLS SNI, certificate name and `Host` of the endpoints, which are IP addresses.
   * @default the looked-up name; for SRV, the name without its leading `_service._proto.` labels
   */
  readonly servername?: string
  /** Answers queries instead of a `node:dns` `Resolver` (custom resolvers, tests); `servers` then does not apply. */
  readonly resolver?: DnsResolver
  /** Time and timers (tests inject a manual clock). @default the system clock (unref'd timers) */
  readonly clock?: Clock
  /** Uniform random numbers in [0, 1) for the error backoff's jitter. @default `systemRandom` (a generator seeded from the OS) */
  readonly random?: Random
  /**
   * The zone of the endpoints (for `localZone`, docs/zones.md): a string for all of them (one
   * name per zone), or a function of each record's target name (the SRV target, or `name` for
   * A/AAAA) and address, e.g. `(t) => t.split('.')[1]` for targets named `host.zone.example`.
   * @default none
   */
  readonly zone?: string | ((target: string, address: string) => string | undefined)
}

/** A DNS discovery source (`keel/dns`). */
export interface DnsDiscovery extends Discovery {
  /** The name looked up. */
  readonly name: string
  /** Looks up again soon: `minInterval` after the previous lookup started at the earliest. */
  refresh(): void
}

const KEYS = [
  'port',
  'protocol',
  'srv',
  'family',
  'servers',
  'minInterval',
  'maxInterval',
  'servername',
  'resolver',
  'clock',
  'random',
  'zone',
] as const
const PROTOCOLS: readonly EndpointProtocol[] = ['http:', 'https:', 'grpc:', 'grpcs:', 'tcp:']
const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443, 'grpc:': 80, 'grpcs:': 443 }
const INTERVAL = { min: 1, max: 2_147_483_647 }
/** Per-try query timeout and tries: a silent server fails a lookup within about 4 s (c-ares doubles the timeout per try). */
const QUERY_TIMEOUT_MS = 1_500
const QUERY_TRIES = 2

/**
 * Endpoints from DNS: the addresses of `name` (A/AAAA, refreshed when their TTL runs out) or the
 * targets of its SRV records (refreshed every `maxInterval`), each address an endpoint whose
 * `servername` is the service name. Lookups run on a `node:dns` `Resolver` (c-ares, not the
 * thread-pool `getaddrinfo`, which hides TTLs) between `minInterval` and `maxInterval` apart;
 * on error the last good set stays and lookups back off. See docs/dns.md.
 *
 * @example new Balancer({ discovery: dnsDiscovery('users.default.svc.cluster.local', { port: 8080 }) })
 */
export function dnsDiscovery(name: string, options: DnsDiscoveryOptions = {}): DnsDiscovery {
  if (typeof name !== 'string' || name.length === 0) throw typeError('name', 'a non-empty DNS name', name)
  if (/[\s/:@]/.test(name) && isIP(name) === 0) throw rangeError('name', 'a DNS name (no scheme, port or path)', name)
  if (!isPlainObject(options as unknown)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, KEYS)
  const srv = checkBoolean('srv', options.srv) ?? false
  const protocol = checkOneOf('protocol', options.protocol, PROTOCOLS) ?? 'http:'
  const port = checkNumber('port', options.port, { integer: true, min: 1, max: 65_535 })
  if (srv && port !== undefined) throw typeError('port', 'absent with `srv` (SRV records carry the port)', port)
  const resolvedPort = port ?? DEFAULT_PORTS[protocol]
  if (!srv && resolvedPort === undefined) throw typeError('port', `an integer from 1 to 65535 for '${protocol}'`, port)
  const family: 0 | 4 | 6 = options.family ?? 0
  if (family !== 0 && family !== 4 && family !== 6) throw rangeError('family', 'one of 0, 4, 6', family)
  const minInterval = checkNumber('minInterval', options.minInterval, INTERVAL) ?? 1_000
  const maxInterval = checkNumber('maxInterval', options.maxInterval, INTERVAL) ?? Math.max(30_000, minInterval)
  if (maxInterval < minInterval) throw rangeError('maxInterval', `a number ≥ minInterval (${minInterval})`, maxInterval)
  const servername: string | undefined = options.servername ?? serviceName(name, srv)
  // The balancer checks it again on every snapshot; a bad one is better caught here, once.
  if (servername !== undefined) parseEndpoint({ host: '127.0.0.1', port: 1, servername }, { option: 'dnsDiscovery' })
  const clock = (checkObject('clock', options.clock) as Clock | undefined) ?? systemClock
  for (const method of ['now', 'setTimeout', 'clearTimeout'] as const) {
    if (typeof clock[method] !== 'function') throw typeError(`clock.${method}`, 'a function', clock[method])
  }
  const random = checkFunction<Random>('random', options.random) ?? systemRandom
  let resolver: DnsResolver
  let cancel: (() => void) | undefined
  if (options.resolver !== undefined) {
    const r = checkObject('resolver', options.resolver) as unknown as DnsResolver
    for (const method of ['resolve4', 'resolve6', 'resolveSrv'] as const) {
      if (typeof r[method] !== 'function') throw typeError(`resolver.${method}`, 'a function', r[method])
    }
    if (options.servers !== undefined) throw typeError('servers', 'absent when `resolver` is given', options.servers)
    resolver = r
  } else {
    const own = createResolver(options.servers)
    resolver = own
    cancel = () => own.cancel()
  }
  const zone = options.zone
  if (zone !== undefined && typeof zone !== 'function' && (typeof zone !== 'string' || zone === ''))
    throw typeError('zone', 'a zone name or a function of the target and address', zone)
  const zoneOf = typeof zone === 'string' ? () => zone : zone
  const settings = { name, srv, family, protocol, port: resolvedPort ?? 0, servername, zoneOf }
  const poller = new Poller({
    minInterval,
    maxInterval,
    clock,
    random,
    lookup: () => dnsLookup(resolver, settings),
    ...(cancel === undefined ? {} : { cancel }),
  })
  return Object.freeze({
    name,
    watch: (listener: Parameters<Discovery['watch']>[0]) => poller.watch(listener),
    refresh: () => poller.refresh(),
  })
}

function createResolver(servers: unknown): Resolver {
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES })
  if (servers === undefined) return resolver
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== 'string')) {
    throw typeError('servers', 'a non-empty array of server addresses', servers)
  }
  try {
    resolver.setServers(servers)
  } catch (error) {
    throw rangeError('servers', `addresses such as '127.0.0.1:5353' (${(error as Error).message})`, servers)
  }
  return resolver
}

/**
 * The logical name endpoints keep for TLS and `Host`: the name itself, without a trailing dot;
 * for SRV, without the leading `_service._proto.` labels (RFC 2782), so
 * `_https._tcp.api.internal` gives `api.internal`. An IP address gives none.
 */
function serviceName(name: string, srv: boolean): string | undefined {
  if (isIP(name) !== 0) return undefined
  let host = name.endsWith('.') ? name.slice(0, -1) : name
  if (srv) {
    const labels = host.split('.')
    while (labels.length > 1 && labels[0]!.startsWith('_')) labels.shift()
    host = labels.join('.')
  }
  return host.toLowerCase()
}
