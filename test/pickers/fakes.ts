import {
  type Endpoint,
  type PickContext,
  type Picker,
  type PickerEndpoint,
  type PickerFactory,
  parseEndpoint,
  type Random,
  seededRandom,
} from '../../src/index.ts'

/** A picker's view of an endpoint, with every field settable by the test. */
export class FakeEndpoint implements PickerEndpoint {
  readonly endpoint: Endpoint<unknown>
  weight: number
  inFlight = 0
  pickable = true
  latency = 10
  /** Answers counted as busy (`LatencyEstimate.busy`). */
  busy = 0
  /** Reads `latencyMs` (so a test can replace it) and `busy`. */
  readonly load = {
    read: (now: number): number => this.latencyMs(now),
    busy: (_now: number): number => this.busy,
    deviationMs: 0,
    guess: false,
    stale: (_now: number, _peerMs: number): boolean => false,
  }

  constructor(index: number, weight = 1) {
    this.endpoint = parseEndpoint(`http://10.0.${index >> 8}.${index & 255}:80`) as unknown as Endpoint<unknown>
    this.weight = weight
  }

  latencyMs(_now: number): number {
    return this.latency
  }
}

/** The per-pick context, as the endpoint set fills it, with an explicit skip set. */
export class FakeContext implements PickContext {
  now = 0
  hasKey = false
  hashHi = 0
  hashLo = 0
  maxInFlight = Number.POSITIVE_INFINITY
  totalInFlight = 0
  readonly skip = new Set<PickerEndpoint>()

  skipped(endpoint: PickerEndpoint): boolean {
    return this.skip.has(endpoint)
  }
}

export function endpoints(weights: readonly number[]): FakeEndpoint[] {
  return weights.map((w, i) => new FakeEndpoint(i, w))
}

export function build(
  factory: PickerFactory,
  list: readonly PickerEndpoint[],
  random: Random = seededRandom(1),
  previous?: Picker,
): Picker {
  return factory.build(list, { random, previous, warn: () => {} })
}

/** A random source that remembers what it returned, so a test can replay a picker's draws. */
export function recording(seed: number): { random: Random; draws: number[] } {
  const base = seededRandom(seed)
  const draws: number[] = []
  return {
    random: () => {
      const u = base()
      draws.push(u)
      return u
    },
    draws,
  }
}

/** The two distinct indices a P2C picker draws from two uniforms (first, then second among the rest). */
export function distinctPair(u1: number, u2: number, n: number): [number, number] {
  const i = Math.floor(u1 * n)
  let j = Math.floor(u2 * (n - 1))
  if (j >= i) j++
  return [i, j]
}
