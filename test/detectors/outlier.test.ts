import { afterEach, describe, expect, it } from 'vitest'
import {
  Balancer,
  type BalancerOptions,
  type EjectedEvent,
  type PickerFactory,
  type Random,
  seededRandom,
} from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

type Outcome = 'ok' | 'fail' | 'refuse' | 'not-found' | 'shed' | 'hang'

const ids = (n: number) => Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`)

/** Picks exactly the endpoint `target.id` when it is pickable: the tests choose who takes each attempt. */
function pinned(target: { id: string }): PickerFactory {
  return {
    name: 'pinned',
    build: (endpoints) => ({ pick: () => endpoints.find((e) => e.endpoint.id === target.id) }),
  }
}

const open: Balancer[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()))
})

function setup(n: number, options: Partial<BalancerOptions> = {}) {
  const clock = new ManualClock()
  const target = { id: '' }
  const endpoints = ids(n)
  const balancer = new Balancer({
    endpoints,
    picker: pinned(target),
    clock,
    random: seededRandom(7),
    retry: false,
    breaker: false,
    ...options,
  })
  open.push(balancer)
  const ejected: { id: string; detector: string; reason: string; ms: number | undefined }[] = []
  const restored: { id: string; detector: string }[] = []
  balancer.on('ejected', (e: EjectedEvent) =>
    ejected.push({
      id: e.endpoint.id,
      detector: e.detector,
      reason: e.reason,
      ms: e.until === undefined ? undefined : e.until - clock.now(),
    }),
  )
  balancer.on('restored', (e: EjectedEvent) => restored.push({ id: e.endpoint.id, detector: e.detector }))
  const hanging: ((error: unknown) => void)[] = []
  /** One call pinned to endpoint `i`; resolves to whether an attempt reached it. */
  async function send(i: number, outcome: Outcome): Promise<boolean> {
    target.id = endpoints[i]!
    let reached = false
    const call = balancer.call(async () => {
      reached = true
      switch (outcome) {
        case 'ok':
          return 'ok'
        case 'fail':
          throw Object.assign(new Error('HTTP 500'), { status: 500 })
        case 'refuse':
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
        case 'not-found':
          throw Object.assign(new Error('HTTP 404'), { status: 404 })
        case 'shed':
          throw Object.assign(new Error('HTTP 429'), { status: 429 })
        case 'hang':
          return new Promise((_, reject) => hanging.push(reject))
      }
    })
    if (outcome === 'hang') {
      call.catch(() => {})
      await Promise.resolve()
      return reached
    }
    await call.catch(() => {})
    return reached
  }
  /** Sends `total` calls to endpoint `i`, `failures` of them failing, spread evenly (never two in a row below 50%). */
  async function traffic(i: number, total: number, failures: number): Promise<void> {
    for (let k = 0; k < total; k++) {
      const fail = Math.floor(((k + 1) * failures) / total) > Math.floor((k * failures) / total)
      await send(i, fail ? 'fail' : 'ok')
    }
  }
  const state = (i: number) => balancer.snapshot().endpoints.find((e) => e.id === endpoints[i])!
  return { balancer, clock, endpoints, ejected, restored, send, traffic, state, hanging }
}

describe('inline ejection', () => {
  it('ejects an endpoint after five consecutive endpoint failures, not after four', async () => {
    const t = setup(6)
    for (let k = 0; k < 4; k++) await t.send(0, 'fail')
    expect(t.ejected).toEqual([])
    await t.send(0, 'fail')
    expect(t.ejected).toEqual([{ id: t.endpoints[0], detector: 'outlier', reason: 'consecutive-failures', ms: 30_000 }])
    expect(t.state(0).state).toBe('ejected')
    expect(await t.send(0, 'ok')).toBe(false)
  })

  it('a success or a caller error between failures resets the count', async () => {
    const t = setup(6)
    for (const between of ['ok', 'not-found'] as const) {
      for (let k = 0; k < 4; k++) await t.send(0, 'fail')
      await t.send(0, between)
    }
    for (let k = 0; k < 4; k++) await t.send(0, 'fail')
    expect(t.ejected).toEqual([])
    await t.send(0, 'fail')
    expect(t.ejected.map((e) => e.reason)).toEqual(['consecutive-failures'])
  })

  it('load shedding (429) neither counts as a failure nor resets the count', async () => {
    const t = setup(6)
    for (let k = 0; k < 4; k++) await t.send(0, 'fail')
    await t.send(0, 'shed')
    // The 429 pauses its endpoint for the overload floor (1 s), and counts for nothing here.
    expect(t.ejected).toEqual([{ id: t.endpoints[0], detector: 'overload', reason: 'retry-after', ms: 1_000 }])
    await t.clock.advance(1_000)
    await t.send(0, 'fail')
    expect(t.ejected.map((e) => e.reason)).toEqual(['retry-after', 'consecutive-failures'])
  })

  it('one refused connection ejects', async () => {
    const t = setup(6)
    await t.send(2, 'refuse')
    expect(t.ejected).toEqual([{ id: t.endpoints[2], detector: 'outlier', reason: 'consecutive-not-sent', ms: 30_000 }])
  })

  it('with consecutiveNotSent off, refusals count toward consecutiveFailures', async () => {
    const t = setup(6, { outlierDetection: { consecutiveNotSent: false } })
    for (let k = 0; k < 4; k++) await t.send(0, 'refuse')
    expect(t.ejected).toEqual([])
    await t.send(0, 'refuse')
    expect(t.ejected.map((e) => e.reason)).toEqual(['consecutive-failures'])
  })

  it('ignores verdicts that end while the endpoint is ejected and restores it with clean counters', async () => {
    const t = setup(6, { outlierDetection: { readmission: false } })
    expect(await t.send(0, 'hang')).toBe(true)
    await t.send(0, 'refuse')
    expect(t.ejected).toHaveLength(1)
    // The attempt that started before the ejection fails now: it must not count.
    t.hanging[0]!(Object.assign(new Error('HTTP 500'), { status: 500 }))
    await t.clock.advance(30_000)
    expect(t.restored).toEqual([{ id: t.endpoints[0], detector: 'outlier' }])
    for (let k = 0; k < 4; k++) expect(await t.send(0, 'fail')).toBe(true)
    expect(t.ejected).toHaveLength(1)
    await t.send(0, 'fail')
    expect(t.ejected.map((e) => [e.reason, e.ms])).toEqual([
      ['consecutive-not-sent', 30_000],
      ['consecutive-failures', 60_000],
    ])
  })

  it('does not eject a draining endpoint for its last attempts', async () => {
    const t = setup(6)
    expect(await t.send(0, 'hang')).toBe(true)
    t.balancer.remove(t.endpoints[0]!)
    t.hanging[0]!(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }))
    await t.clock.advance(0)
    expect(t.ejected).toEqual([])
  })
})

describe('success-rate sweep', () => {
  const only = { consecutiveFailures: false, failurePercentage: false } as const

  it('ejects exactly the endpoints below mean − 1.9 σ', async () => {
    const t = setup(6, { outlierDetection: only })
    const failures = [0, 1, 2, 3, 4, 20] // success rates 1.00, .99, .98, .97, .96, .80
    for (let i = 0; i < 6; i++) await t.traffic(i, 100, failures[i]!)
    await t.clock.advance(9_999)
    expect(t.ejected).toEqual([])
    await t.clock.advance(1)
    expect(t.ejected).toEqual([{ id: t.endpoints[5], detector: 'outlier', reason: 'success-rate', ms: 30_000 }])
  })

  it('ejects none when all six are at 70%', async () => {
    const t = setup(6, { outlierDetection: only })
    for (let i = 0; i < 6; i++) await t.traffic(i, 100, 30)
    await t.clock.advance(10_000)
    expect(t.ejected).toEqual([])
  })

  it('judges only endpoints with requestVolume calls, and only when minimumHosts have them', async () => {
    const a = setup(6, { outlierDetection: only })
    for (let i = 0; i < 5; i++) await a.traffic(i, 100, 0)
    await a.traffic(5, 99, 40) // too few calls to be judged
    await a.clock.advance(10_000)
    expect(a.ejected).toEqual([])

    const b = setup(6, { outlierDetection: only })
    for (let i = 0; i < 3; i++) await b.traffic(i, 100, 0)
    for (let i = 3; i < 5; i++) await b.traffic(i, 99, 0)
    await b.traffic(5, 100, 40) // only four endpoints have 100 calls: no verdict at all
    await b.clock.advance(10_000)
    expect(b.ejected).toEqual([])
  })

  it('counts each interval on its own', async () => {
    const t = setup(6, { outlierDetection: only })
    for (let i = 0; i < 6; i++) await t.traffic(i, 60, i === 5 ? 30 : 0)
    await t.clock.advance(10_000)
    for (let i = 0; i < 6; i++) await t.traffic(i, 60, 0)
    await t.clock.advance(10_000)
    expect(t.ejected).toEqual([])
  })

  it('enforces a detection with probability `enforcing`%, drawn from the injected random', async () => {
    const draws = [0.7, 0.3]
    let drawn = 0
    const random: Random = () => {
      drawn++
      return draws.shift() ?? 0.5
    }
    const t = setup(6, { random, outlierDetection: { ...only, successRate: { enforcing: 50 } } })
    const before = drawn
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6; i++) await t.traffic(i, 100, i === 5 ? 50 : 0)
      await t.clock.advance(10_000)
    }
    expect(drawn - before).toBe(2)
    expect(t.ejected.map((e) => e.reason)).toEqual(['success-rate'])

    const never = setup(6, { outlierDetection: { ...only, successRate: { enforcing: 0 } } })
    for (let i = 0; i < 6; i++) await never.traffic(i, 100, i === 5 ? 50 : 0)
    await never.clock.advance(10_000)
    expect(never.ejected).toEqual([])
  })
})

describe('failure-percentage sweep', () => {
  const only = { consecutiveFailures: false, successRate: false } as const
  const run = async (volumes: number[], failures: number[]) => {
    const t = setup(volumes.length, { outlierDetection: only, maxEjectionPercent: 50 })
    for (let i = 0; i < volumes.length; i++) await t.traffic(i, volumes[i]!, failures[i]!)
    await t.clock.advance(10_000)
    return t.ejected.map((e) => [t.endpoints.indexOf(e.id), e.reason])
  }

  it('ejects an endpoint at 85% failures or more', async () => {
    expect(await run([60, 60, 60, 60, 60, 60], [51, 0, 0, 0, 0, 60])).toEqual([
      [0, 'failure-percentage'],
      [5, 'failure-percentage'],
    ])
  })

  it('leaves an endpoint just under 85% alone', async () => {
    expect(await run([60, 60, 60, 60, 60, 60], [50, 0, 0, 0, 0, 0])).toEqual([])
  })

  it('needs requestVolume calls on the endpoint', async () => {
    expect(await run([49, 60, 60, 60, 60, 60], [49, 0, 0, 0, 0, 0])).toEqual([])
  })

  it('needs minimumHosts endpoints with that volume', async () => {
    expect(await run([60, 60, 60, 60, 49, 49], [60, 0, 0, 0, 0, 0])).toEqual([])
    expect(await run([60, 60, 60, 60, 50, 49], [60, 0, 0, 0, 0, 0])).toEqual([[0, 'failure-percentage']])
  })
})

describe('ejection time', () => {
  it('grows 30, 60, 90 s … up to 300 s and shrinks again after healthy intervals', async () => {
    const t = setup(6, { outlierDetection: { readmission: false } })
    await t.clock.advance(5_000) // off the sweep grid (sweeps at 10 s, 20 s, …)
    const durations: (number | undefined)[] = []
    for (let k = 0; k < 11; k++) {
      await t.send(0, 'refuse')
      const ms = t.ejected.at(-1)!.ms!
      durations.push(ms / 1000)
      await t.clock.advance(ms - 1)
      expect(t.restored).toHaveLength(k)
      await t.clock.advance(1)
      expect(t.restored).toHaveLength(k + 1)
    }
    expect(durations).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300])
    // The sweep of the interval the ejection ended in does not count; the next three each take one off.
    await t.clock.advance(40_000)
    await t.send(0, 'refuse')
    expect(t.ejected.at(-1)!.ms).toBe(240_000)
    await t.clock.advance(240_000)
    await t.clock.advance(12 * 10_000)
    await t.send(0, 'refuse')
    expect(t.ejected.at(-1)!.ms).toBe(30_000)
  })

  it('honours maxEjectionTime below a multiple of baseEjectionTime', async () => {
    const t = setup(6, { outlierDetection: { baseEjectionTime: 1_000, maxEjectionTime: 2_500 } })
    for (let k = 0; k < 4; k++) {
      await t.send(0, 'refuse')
      await t.clock.advance(t.ejected.at(-1)!.ms!)
    }
    expect(t.ejected.map((e) => e.ms)).toEqual([1_000, 2_000, 2_500, 2_500])
  })
})

describe('maxEjectionPercent', () => {
  it('holds across breaker and outlier ejections together', async () => {
    const t = setup(10, {
      maxEjectionPercent: 20, // two of ten
      breaker: { volumeThreshold: 3, resetTimeout: 60_000 },
    })
    const violations: string[] = []
    const ejectedNow = () => t.balancer.snapshot().endpoints.filter((e) => e.states.includes('ejected'))
    t.balancer.on('ejected', () => {
      if (ejectedNow().length > 2)
        violations.push(
          ejectedNow()
            .map((e) => e.id)
            .join(),
        )
    })
    for (let k = 0; k < 3; k++) await t.send(0, 'fail') // breaker opens
    await t.send(1, 'refuse') // outlier: the second slot
    await t.send(2, 'refuse') // outlier: no slot, the detection is dropped
    for (let k = 0; k < 3; k++) await t.send(3, 'fail') // breaker opens, held back by the cap
    expect(t.ejected.map((e) => [t.endpoints.indexOf(e.id), e.detector])).toEqual([
      [0, 'breaker'],
      [1, 'outlier'],
    ])
    expect(t.state(2).state).toBe('active')
    expect(await t.send(2, 'ok')).toBe(true)
    expect(t.state(3).states).toEqual(['open'])
    // The outlier ejection lifts after 30 s: the held breaker takes the slot, not endpoint 2.
    await t.clock.advance(30_000)
    await t.send(2, 'refuse')
    expect(t.ejected.map((e) => [t.endpoints.indexOf(e.id), e.detector])).toEqual([
      [0, 'breaker'],
      [1, 'outlier'],
      [3, 'breaker'],
    ])
    expect(ejectedNow().map((e) => e.id)).toEqual([t.endpoints[0], t.endpoints[3]])
    expect(violations).toEqual([])
  })
})

describe('lifecycle', () => {
  it('runs one sweep timer, and close() stops it', async () => {
    const t = setup(6)
    expect(t.clock.pending).toBe(1)
    await t.clock.advance(35_000)
    expect(t.clock.pending).toBe(1)
    await t.balancer.close()
    expect(t.clock.pending).toBe(0)

    const off = setup(6, { outlierDetection: false })
    expect(off.clock.pending).toBe(0)
    await off.send(0, 'refuse')
    expect(off.ejected).toEqual([])
  })
})
