import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Balancer } from '../src/index.ts'

interface NumberSpec {
  min?: number
  max?: number
  minExclusive?: boolean
  integer?: boolean
  allowInfinity?: boolean
  /** Non-number values that are valid too (false, 'p95'). */
  also?: unknown[]
}

const MAX_TIMER = 2 ** 31 - 1
const timer: NumberSpec = { min: 0, minExclusive: true, max: MAX_TIMER }
const percent: NumberSpec = { min: 0, max: 100 }
const count = (min: number, max: number): NumberSpec => ({ integer: true, min, max })

/** Every numeric option and its rule (each section's default lives beside its feature: docs/architecture.md). */
const numbers: Record<string, NumberSpec> = {
  maxInFlightPerEndpoint: { integer: true, min: 1, allowInfinity: true },
  drainTimeout: { min: 0, max: MAX_TIMER },
  timeout: timer,
  attemptTimeout: timer,
  maxEjectionPercent: percent,
  panicThreshold: percent,
  maxConnectionAge: timer,
  'retry.retries': count(0, 100),
  'retry.minTimeout': { min: 0, max: 25 },
  'retry.maxTimeout': { min: 250, max: MAX_TIMER },
  'retry.factor': { min: 1, max: 100 },
  'retry.maxRetryAfter': { min: 0, max: MAX_TIMER },
  'retry.budget.percent': { min: 0, max: 1000 },
  'retry.budget.minPerSecond': { min: 0, max: 1e6 },
  'retry.budget.window': { min: 100, max: 3_600_000 },
  'hedge.maxAttempts': count(2, 10),
  'breaker.errorThresholdPercentage': percent,
  'breaker.volumeThreshold': count(0, 1e9),
  'breaker.resetTimeout': timer,
  'breaker.trialTimeout': timer,
  'outlierDetection.consecutiveFailures': { ...count(1, 1e6), also: [false] },
  'outlierDetection.consecutiveNotSent': { ...count(1, 1e6), also: [false] },
  'outlierDetection.interval': { min: 10, max: MAX_TIMER },
  'outlierDetection.baseEjectionTime': { min: 0, minExclusive: true, max: 30_000 },
  'outlierDetection.maxEjectionTime': { min: 300_000, max: MAX_TIMER },
  'outlierDetection.successRate.stdevFactor': { min: 0, max: 100 },
  'outlierDetection.successRate.requestVolume': count(1, 1e9),
  'outlierDetection.successRate.minimumHosts': count(1, 1e6),
  'outlierDetection.successRate.enforcing': percent,
  'outlierDetection.failurePercentage.threshold': percent,
  'outlierDetection.failurePercentage.requestVolume': count(1, 1e9),
  'outlierDetection.failurePercentage.minimumHosts': count(1, 1e6),
  'outlierDetection.failurePercentage.enforcing': percent,
  'healthCheck.interval': { min: 10, max: MAX_TIMER },
  'healthCheck.timeout': timer,
  'healthCheck.healthyThreshold': count(1, 1000),
  'healthCheck.unhealthyThreshold': count(1, 1000),
  'healthCheck.jitter': { min: 0, max: 50 },
  'slowStart.minWeightPercent': percent,
  'slowStart.aggression': { min: 0, minExclusive: true, max: 100 },
}

/** Options that are not plain numbers: valid and invalid samples. */
const others: Record<string, { valid: fc.Arbitrary<unknown>; invalid: fc.Arbitrary<unknown> }> = {
  picker: {
    valid: fc.constantFrom('round-robin', 'p2c-ewma'),
    invalid: fc.oneof(fc.constantFrom('round_robin', 'fastest', ''), fc.integer(), fc.constant(null)),
  },
  servername: {
    valid: fc.constantFrom('users.internal', 'localhost', 'api.example.com'),
    invalid: fc.oneof(fc.constant(''), fc.integer(), fc.boolean()),
  },
  allowEmpty: { valid: fc.boolean(), invalid: fc.oneof(fc.string(), fc.integer()) },
  'hedge.delay': {
    valid: fc.oneof(fc.constant('p95'), fc.integer({ min: 0, max: 1000 })),
    invalid: fc.oneof(fc.constant('p99'), fc.constant(-1)),
  },
  'healthCheck.type': { valid: fc.constantFrom('http', 'tcp', 'grpc'), invalid: fc.constantFrom('udp', 'HTTP', 3) },
  'healthCheck.path': { valid: fc.constantFrom('/health', '/livez'), invalid: fc.constantFrom('health', '', 7) },
  'healthCheck.expectedStatus': {
    valid: fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constant([200, 299])),
    invalid: fc.oneof(fc.constant([300, 200]), fc.constant([200]), fc.constant(99), fc.constant('200')),
  },
  classify: { valid: fc.constant(() => undefined), invalid: fc.oneof(fc.constant({}), fc.constant('x')) },
  random: { valid: fc.constant(() => 0.5), invalid: fc.constantFrom(0.5, 'random') },
  createClient: { valid: fc.constant(() => ({})), invalid: fc.constantFrom('client', 1) },
}

function validNumber(spec: NumberSpec): fc.Arbitrary<unknown> {
  const min = spec.min ?? -1e9
  const max = spec.max ?? 1e9
  const base = spec.integer
    ? fc.integer({ min: spec.minExclusive ? min + 1 : min, max: Math.min(max, 2 ** 31 - 1) })
    : fc
        .double({ min, max, noNaN: true, noDefaultInfinity: true })
        .filter((v) => !(spec.minExclusive && v <= min) && !Object.is(v, -0))
  const extra = [...(spec.also ?? []), ...(spec.allowInfinity ? [Number.POSITIVE_INFINITY] : [])]
  return extra.length > 0 ? fc.oneof(base, fc.constantFrom(...extra)) : base
}

function invalidNumber(spec: NumberSpec): fc.Arbitrary<unknown> {
  const wrong: fc.Arbitrary<unknown>[] = [
    fc.constantFrom('1', 'ten', null, true, [], {}, Number.NaN),
    fc.constant(spec.allowInfinity ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY),
  ]
  if (spec.min !== undefined) {
    wrong.push(
      spec.minExclusive
        ? fc.double({ max: spec.min, noNaN: true, noDefaultInfinity: true })
        : fc.double({ max: spec.min, maxExcluded: true, noNaN: true, noDefaultInfinity: true }),
    )
  }
  if (spec.max !== undefined)
    wrong.push(fc.double({ min: spec.max, minExcluded: true, noNaN: true, noDefaultInfinity: true }))
  if (spec.integer) wrong.push(fc.constant((spec.min ?? 0) + 1.5))
  return fc.oneof(...wrong)
}

const paths = [...Object.keys(numbers), ...Object.keys(others)]

function validFor(path: string): fc.Arbitrary<unknown> {
  return path in numbers ? validNumber(numbers[path]!) : others[path]!.valid
}

function invalidFor(path: string): fc.Arbitrary<unknown> {
  return path in numbers ? invalidNumber(numbers[path]!) : others[path]!.invalid
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
  node[parts.at(-1)!] = value
}

/** Builds an options object; sections that need a field (slowStart.window) get it. */
function build(entries: [string, unknown][]): Record<string, unknown> {
  const options: Record<string, unknown> = { endpoints: [] }
  for (const [path, value] of entries) setPath(options, path, value)
  if (options.slowStart !== undefined) (options.slowStart as Record<string, unknown>).window ??= 1_000
  if (options.hedge !== undefined) (options.hedge as Record<string, unknown>).delay ??= 10
  return options
}

const validEntries = fc
  .uniqueArray(fc.constantFrom(...paths), { maxLength: 12 })
  .chain((chosen) =>
    fc.tuple(...chosen.map((path) => validFor(path).map((value) => [path, value] as [string, unknown]))),
  )

describe('option validation (fuzzed)', () => {
  it('accepts every valid option object', () => {
    fc.assert(
      fc.property(validEntries, (entries) => {
        const balancer = new Balancer(build(entries) as never)
        void balancer.close()
      }),
      { numRuns: 400, seed: 42 },
    )
  })

  it('rejects any object with one invalid option with a TypeError or RangeError naming it', () => {
    const invalidCase = fc.constantFrom(...paths).chain((bad) =>
      fc.tuple(
        fc.constant(bad),
        invalidFor(bad),
        validEntries.map((entries) => entries.filter(([p]) => p !== bad)),
      ),
    )
    fc.assert(
      fc.property(invalidCase, ([bad, value, entries]) => {
        const options = build([...entries, [bad, value]])
        let error: unknown
        try {
          new Balancer(options as never)
        } catch (e) {
          error = e
        }
        expect(error, `${bad} = ${String(value)} was accepted`).toBeDefined()
        expect(error instanceof TypeError || error instanceof RangeError).toBe(true)
        const named = (error as { option?: string }).option
        expect(
          named === bad || (named ?? '').startsWith(`${bad}[`) || (named ?? '').startsWith(`${bad}.`),
          `${(error as Error).message} does not name ${bad}`,
        ).toBe(true)
        expect((error as Error).message).toContain(`\`${named}\``)
      }),
      { numRuns: 600, seed: 7 },
    )
  })

  it('rejects unknown options and suggests the closest name', () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter(
            (k) =>
              !paths.some((p) => p.split('.')[0] === k) &&
              !['endpoints', 'discovery', 'clock', 'fallbackPicker', 'closeClient', 'random'].includes(k),
          ),
        (key) => {
          expect(() => new Balancer({ endpoints: [], [key]: 1 } as never)).toThrow(TypeError)
        },
      ),
      { numRuns: 200, seed: 3 },
    )
    expect(() => new Balancer({ endpoints: [], retyr: {} } as never)).toThrow(
      'Unknown option `retyr` (did you mean `retry`?)',
    )
    expect(() => new Balancer({ endpoints: [], retry: { retires: 1 } } as never)).toThrow(
      'Unknown option `retry.retires` (did you mean `retry.retries`?)',
    )
  })

  it('states the message format of docs/endpoints.md', () => {
    expect(() => new Balancer({ endpoints: [], retry: { retries: -1 } })).toThrow(
      'Expected `retry.retries` to be a non-negative integer ≤ 100, got -1',
    )
    expect(() => new Balancer({ endpoints: [], retry: { minTimeout: 100, maxTimeout: 50 } })).toThrow(
      'Expected `retry.maxTimeout` to be a number ≥ `retry.minTimeout` (100), got 50',
    )
    expect(() => new Balancer({ endpoints: ['http://h:1'], discovery: { watch: () => () => {} } })).toThrow(
      /`discovery`/,
    )
  })
})
