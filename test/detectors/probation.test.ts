// An endpoint restored on probation by a re-admission probe takes one trial attempt at a time
// until an answer, as a half-open breaker does (Envoy's half-open circuit, Finagle's
// FailureAccrual probe): a replica that is still broken costs one failed request, not every
// request picked during the trial. Injected clock and random; no sockets.
import { afterEach, describe, expect, it } from 'vitest'
import { failedConnectTo } from '../../src/ejection/connect-probe.ts'
import { Balancer, type BalancerOptions, type PickerFactory, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const open: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()))
})

/** Prefers endpoint 0 whenever it may be picked; otherwise the first endpoint not skipped. */
const preferFirst: PickerFactory = {
  name: 'prefer-first',
  build: (endpoints) => ({
    pick: (context) => {
      for (const e of endpoints) if (e.pickable && !context.skipped(e)) return e
      return undefined
    },
  }),
}

type Outcome = 'ok' | 'fail' | 'refuse' | 'overloaded'

function setup(options: Partial<BalancerOptions> = {}) {
  const clock = new ManualClock()
  const endpoints = ['http://10.0.0.1:80', 'http://10.0.0.2:80']
  const balancer = new Balancer({
    endpoints,
    picker: preferFirst,
    clock,
    random: seededRandom(5),
    retry: false,
    ...options,
  })
  open.push(balancer)
  const reached: string[] = []
  const restored: number[] = []
  balancer.on('restored', () => restored.push(clock.now()))
  /** Starts `n` calls at once; endpoint 0 answers `outcome` after `ms`, endpoint 1 answers ok. */
  async function burst(n: number, outcome: Outcome, ms = 100): Promise<string[]> {
    reached.length = 0
    const calls = Array.from({ length: n }, () =>
      balancer
        .call(async (endpoint) => {
          reached.push(endpoint.id)
          await new Promise<void>((resolve) => clock.setTimeout(resolve, ms))
          if (endpoint.id !== endpoints[0]) return 'ok'
          if (outcome === 'refuse')
            throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' })
          if (outcome === 'fail') throw Object.assign(new Error('HTTP 500'), { status: 500 })
          if (outcome === 'overloaded') throw Object.assign(new Error('HTTP 503'), { status: 503 })
          return 'ok'
        })
        .catch(() => {}),
    )
    await clock.advance(ms)
    await Promise.all(calls)
    return reached.map((id) => (id === endpoints[0] ? 'A' : 'B'))
  }
  async function ejectAndRestore(): Promise<void> {
    expect(await burst(1, 'refuse', 0)).toEqual(['A'])
    while (restored.length === 0) await clock.advance(10)
  }
  const stateOfA = () => balancer.snapshot().endpoints[0]!.state
  return { balancer, clock, burst, ejectAndRestore, stateOfA }
}

describe.each([
  ['breakers off', { breaker: false as const }],
  ['breakers on (default)', {}],
])('probation (%s)', (_name, options) => {
  it('admits one trial at a time; after its success, every pick again', async () => {
    const t = setup(options)
    await t.ejectAndRestore()
    // Four concurrent picks: the trial goes to A, the other three to B.
    expect((await t.burst(4, 'ok')).sort()).toEqual(['A', 'B', 'B', 'B'])
    // The trial answered: probation is over and A takes every pick.
    expect(await t.burst(4, 'ok')).toEqual(['A', 'A', 'A', 'A'])
    expect(t.stateOfA()).toBe('active')
  })

  it('a failed trial ejects again at once: one request reached the broken endpoint', async () => {
    const t = setup(options)
    await t.ejectAndRestore()
    expect((await t.burst(5, 'fail')).sort()).toEqual(['A', 'B', 'B', 'B', 'B'])
    expect(t.stateOfA()).toBe('ejected')
    expect(await t.burst(3, 'ok')).toEqual(['B', 'B', 'B'])
  })

  it('an overloaded trial decides nothing: the next trial is admitted, still one at a time', async () => {
    const t = setup(options)
    await t.ejectAndRestore()
    expect((await t.burst(3, 'overloaded', 0)).sort()).toEqual(['A', 'B', 'B'])
    // The overload pause keeps A out for its floor; once over, one trial again.
    await t.clock.advance(60_000)
    expect((await t.burst(3, 'ok')).sort()).toEqual(['A', 'B', 'B'])
    expect(await t.burst(3, 'ok')).toEqual(['A', 'A', 'A'])
  })
})

describe('failedConnectTo: which refusals a TCP connect probe can re-check', () => {
  const refused = (port: number) =>
    Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
      address: '127.0.0.1',
      port,
    })

  it('finds a connect to the endpoint port, bare, as a cause (fetch) or inside an AggregateError', () => {
    expect(failedConnectTo(refused(8080), 8080)).toBe(true)
    expect(failedConnectTo(new TypeError('fetch failed', { cause: refused(8080) }), 8080)).toBe(true)
    const happyEyeballs = new AggregateError([refused(8080), refused(8080)])
    expect(failedConnectTo(new TypeError('fetch failed', { cause: happyEyeballs }), 8080)).toBe(true)
  })

  it('not another port (a proxy), not an error without one (a test double, gRPC status), not a deep chain', () => {
    expect(failedConnectTo(refused(3128), 8080)).toBe(false)
    expect(failedConnectTo(Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' }), 80)).toBe(
      false,
    )
    expect(failedConnectTo('ECONNREFUSED', 80)).toBe(false)
    let deep: unknown = refused(80)
    for (let i = 0; i < 6; i++) deep = new Error('wrapped', { cause: deep })
    expect(failedConnectTo(deep, 80)).toBe(false)
  })
})
