import { checkNumber, checkString, isPlainObject, rangeError, section, TIMER, typeError } from '../internal/validate.ts'

// The `localZone` option and the `zoneAware` option section (docs/zones.md).

/** Zone-aware routing (Envoy's zone-aware routing, `min_cluster_size`, `overprovisioning_factor`). */
export interface ZoneAwareOptions {
  /**
   * A priority level with fewer members than this stays zone-blind (Envoy `min_cluster_size`):
   * splitting a handful of endpoints by zone concentrates the load on one or two of them.
   * @default 6
   */
  readonly minEndpoints?: number
  /**
   * How much headroom a zone is assumed to have: the local zone keeps
   * min(1, overprovisioning × eligible / members) of the calls (Envoy `overprovisioning_factor`).
   * @default 1.4
   */
  readonly overprovisioning?: number
  /**
   * How near the other zones are, nearest first: `['us-east-1b', 'us-east-1c']`, or a rank per
   * zone (`{ 'us-east-1b': 1, 'us-east-1c': 1, 'us-west-2a': 2 }`, lower is nearer, equal ranks
   * share). Spill-over fills the nearest zones first; unranked zones (and endpoints without a
   * zone) come last. @default none: every other zone is equally near
   */
  readonly zones?: readonly string[] | Readonly<Record<string, number>>
  /**
   * Shed load from a local zone that is healthy but much slower than the others, by the latency
   * estimates the picker uses (docs/zones.md, "Latency"); `false` routes by health only.
   */
  readonly latency?: ZoneLatencyOptions | false
}

/** When a slow local zone sheds load (docs/zones.md, "Latency"). */
export interface ZoneLatencyOptions {
  /**
   * The local zone sheds load when its median latency estimate is over `ratio` × the other
   * zones' median + 1 ms. @default 2
   */
  readonly ratio?: number
  /** How often the rule is recomputed besides every snapshot rebuild, in ms. @default 1_000 */
  readonly interval?: number
  /**
   * While all calls stay local, one call in at least 100, at most once per `probeInterval` ms,
   * goes to another zone so that its latency is known. @default 10_000
   */
  readonly probeInterval?: number
}

export interface ResolvedZoneLatency {
  readonly ratio: number
  readonly interval: number
  readonly probeInterval: number
}

export interface ResolvedZones {
  readonly localZone: string
  readonly minEndpoints: number
  readonly overprovisioning: number
  /** Rank of each ranked zone (the local zone is 0, ranked ones from 1); unranked zones are absent. */
  readonly ranks: ReadonlyMap<string, number>
  readonly latency: ResolvedZoneLatency | false
}

/** `undefined` when zone-aware routing is off (no `localZone`, or `zoneAware: false`). */
export function resolveZones(localZone: unknown, zoneAware: unknown): ResolvedZones | undefined {
  const local = checkString('localZone', localZone)
  if (zoneAware === false) return undefined
  const z = section('zoneAware', zoneAware, ['minEndpoints', 'overprovisioning', 'zones', 'latency']) ?? {}
  if (local === undefined) {
    if (zoneAware !== undefined) throw typeError('localZone', "the caller's zone (a string) with `zoneAware`", local)
    return undefined
  }
  return Object.freeze({
    localZone: local,
    minEndpoints: checkNumber('zoneAware.minEndpoints', z.minEndpoints, { integer: true, min: 0, max: 1_000_000 }) ?? 6,
    overprovisioning: checkNumber('zoneAware.overprovisioning', z.overprovisioning, { min: 1, max: 100 }) ?? 1.4,
    ranks: resolveRanks(z.zones, local),
    latency: resolveLatency(z.latency),
  })
}

function resolveRanks(zones: unknown, local: string): ReadonlyMap<string, number> {
  const ranks = new Map<string, number>()
  if (zones === undefined) return ranks
  if (Array.isArray(zones)) {
    zones.forEach((zone, i) => {
      checkString(`zoneAware.zones[${i}]`, zone)
      if (ranks.has(zone)) throw rangeError(`zoneAware.zones[${i}]`, 'a zone listed once', zone)
      if (zone !== local) ranks.set(zone, ranks.size + 1)
    })
    return ranks
  }
  if (!isPlainObject(zones)) throw typeError('zoneAware.zones', 'an array of zones or an object of zone ranks', zones)
  for (const [zone, rank] of Object.entries(zones)) {
    const r = checkNumber(`zoneAware.zones.${zone}`, rank, { integer: true, min: 0, max: 1_000_000 })!
    if (zone !== local) ranks.set(zone, r + 1)
  }
  return ranks
}

function resolveLatency(value: unknown): ResolvedZoneLatency | false {
  if (value === false) return false
  const l = section('zoneAware.latency', value, ['ratio', 'interval', 'probeInterval']) ?? {}
  return Object.freeze({
    ratio: checkNumber('zoneAware.latency.ratio', l.ratio, { min: 1, minExclusive: true, max: 1_000 }) ?? 2,
    interval: checkNumber('zoneAware.latency.interval', l.interval, TIMER) ?? 1_000,
    probeInterval: checkNumber('zoneAware.latency.probeInterval', l.probeInterval, TIMER) ?? 10_000,
  })
}
