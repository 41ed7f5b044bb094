import { afterEach, describe, expect, it } from 'vitest'
import {
  type AttemptEvent,
  Balancer,
  type BalancerOptions,
  HedgeLostError,
  RetriesExhaustedError,
  type RetryEvent,
  seededRandom,
} from '../../src/index.ts'
import { describeError } from '../../src/model/describe-error.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'
const C = 'http://10.0.0.3:80'

/** What fetch throws for a refused connection: the reason is two causes down. */
function fetchFailed(address: string): TypeError {
  const refused = Object.assign(new Error(`connect ECONNREFUSED ${address}`), {
    code: 'ECONNREFUSED',
    syscall: 'connect',
    address,
  })
  return new TypeError('fetch failed', { cause: refused })
}

class HttpError extends Error {
  readonly status: number
  constructor(status: number) {
    super(`HTTP ${status}`)
    this.name = 'HttpError'
    this.status = status
  }
}

function make(options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints: [A, B, C],
    clock,
    random: seededRandom(1),
    picker: 'round-robin',
    breaker: false,
    outlierDetection: false,
    retry: { retries: 2, minTimeout: 0, maxTimeout: 0 },
    ...options,
  })
  balancers.push(balancer)
  const attempts: AttemptEvent[] = []
  const retries: RetryEvent[] = []
  const hedges: RetryEvent[] = []
  balancer.on('attempt', (e) => attempts.push(e))
  balancer.on('retry', (e) => retries.push(e))
  balancer.on('hedge', (e) => hedges.push(e))
  return { balancer, clock, attempts, retries, hedges }
}

describe('describeError', () => {
  it('follows cause down to the system error and shows identifying properties once', () => {
    expect(describeError(fetchFailed('10.0.0.1:80'))).toBe(
      'TypeError: fetch failed ← Error: connect ECONNREFUSED 10.0.0.1:80',
    )
    expect(describeError(new HttpError(503))).toBe('HttpError: HTTP 503')
    expect(describeError(Object.assign(new Error('boom'), { code: 'EPIPE', status: 502 }))).toBe(
      'Error: boom (code EPIPE, status 502)',
    )
    expect(describeError('a string')).toBe('a string')
  })
})

describe('reasons on events and errors', () => {
  it('gives every attempt event its error and call id, and every retry its reason', async () => {
    const { balancer, attempts, retries } = make()
    const errors = new Map([
      [A, fetchFailed('10.0.0.1:80')],
      [B, new HttpError(503)],
      [C, new HttpError(502)],
    ])
    const error = await balancer
      .call((endpoint) => Promise.reject(errors.get(endpoint.id)), { idempotent: true })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RetriesExhaustedError)
    const ids = attempts.map((a) => a.endpoint.id)
    expect(new Set(ids)).toEqual(new Set([A, B, C]))
    expect(attempts.map((a) => a.error)).toEqual(ids.map((id) => errors.get(id)))
    const callId = attempts[0]!.callId
    expect(callId).toBeGreaterThan(0)
    expect(attempts.every((a) => a.callId === callId)).toBe(true)
    expect(retries.map((r) => [r.callId, r.from.id, r.verdict, r.error])).toEqual(
      ids
        .slice(0, 2)
        .map((id) => [
          callId,
          id,
          errors.get(id) instanceof TypeError ? 'not-sent' : 'endpoint-failure',
          errors.get(id),
        ]),
    )
    expect(retries[0]!.reason).toBe(`${ids[0]} ${retries[0]!.verdict}: ${describeError(errors.get(ids[0]!))}`)
    // The next call gets another id.
    await balancer.call(() => 'ok')
    expect(attempts.at(-1)!.callId).toBe(callId + 1)
  })

  it('lists each attempt with endpoint, verdict and error in RetriesExhaustedError', async () => {
    const { balancer, clock } = make()
    const pending = balancer
      .call(
        (endpoint) =>
          endpoint.id === A
            ? Promise.reject(fetchFailed('10.0.0.1:80'))
            : new Promise((_, reject) => clock.setTimeout(() => reject(new HttpError(503)), 30)),
        { idempotent: true },
      )
      .catch((e: unknown) => e)
    await flush()
    await clock.advance(30)
    await clock.advance(30)
    const error = (await pending) as RetriesExhaustedError
    expect(error.attempts.map((a) => [a.endpoint, a.verdict, a.durationMs])).toEqual([
      [B, 'endpoint-failure', 30],
      [C, 'endpoint-failure', 30],
      [A, 'not-sent', 0],
    ])
    expect(error.attempts.map((a) => a.error)).toEqual([
      new HttpError(503),
      new HttpError(503),
      fetchFailed('10.0.0.1:80'),
    ])
    expect(error.message).toBe(
      [
        'Call failed after 3 attempts (retries):',
        `  1. ${B} endpoint-failure after 30 ms: HttpError: HTTP 503`,
        `  2. ${C} endpoint-failure after 30 ms: HttpError: HTTP 503`,
        `  3. ${A} not-sent after 0 ms: TypeError: fetch failed ← Error: connect ECONNREFUSED 10.0.0.1:80`,
      ].join('\n'),
    )
  })

  it('says why a hedge started, and gives the loser its HedgeLostError', async () => {
    const { balancer, clock, attempts, hedges } = make({ hedge: { delay: 50 } })
    const answers: ((v: string) => void)[] = []
    const call = balancer.call(() => new Promise<string>((resolve) => answers.push(resolve)), { idempotent: true })
    await flush()
    await clock.advance(50)
    expect(hedges).toHaveLength(1)
    expect(hedges[0]!.reason).toBe(`no answer from ${hedges[0]!.from.id} after 50 ms`)
    answers[1]!('second')
    expect(await call).toBe('second')
    const loser = attempts.find((a) => a.verdict === 'cancelled')!
    expect(loser.error).toBeInstanceOf(HedgeLostError)
    expect(loser.hedge).toBe(false)
    expect(attempts.find((a) => a.verdict === 'success')!.hedge).toBe(true)
    expect(hedges[0]!.callId).toBe(loser.callId)
  })
})
