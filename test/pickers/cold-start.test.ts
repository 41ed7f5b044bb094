import { describe, expect, it } from 'vitest'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

describe('cold start of latency estimates', () => {
  it("gives every guessing endpoint the fleet's first real answer, at the same instant", async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80'],
      clock,
      random: seededRandom(4),
    })
    const core = coreOf(balancer)
    const states = [...core.set.members.values()]
    // Made at different instants, the guesses would decay to different readings (the real clock
    // moves while a balancer builds): reproduce that with two endpoints rebased 5 ms apart.
    states[1]!.load.reset(clock.now() + 5, 30)
    expect(states.map((s) => s.load.guess)).toEqual([true, true, true])
    const picked = await balancer.call(async (endpoint) => {
      await clock.advance(2)
      return endpoint.id
    })
    const now = clock.now()
    for (const state of states) expect(state.latencyMs(now)).toBe(2)
    // Still tentative, all three: one answer is not yet a measurement.
    expect(states.map((s) => s.load.guess)).toEqual([true, true, true])
    expect(picked).toMatch(/^http:\/\/10\.0\.0\.\d:80$/)
    // Later answers follow the usual rules: the guessing ones keep the calibrated guess until theirs.
    await clock.advance(1_000)
    const reading = states.map((s) => s.latencyMs(clock.now()))
    expect(new Set(reading).size).toBe(1)
    await balancer.close()
  })

  it('spreads one-at-a-time calls over a fresh fleet of equal endpoints instead of pinning the oldest', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80'],
      clock,
      random: seededRandom(8),
    })
    const states = [...coreOf(balancer).set.members.values()]
    states[0]!.load.reset(clock.now() - 1, 30)
    const counts = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const id = await balancer.call(async (endpoint) => {
        await clock.advance(1)
        return endpoint.id
      })
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    expect(counts.size).toBe(3)
    for (const n of counts.values()) expect(n).toBeGreaterThan(50)
    await balancer.close()
  })

  it.each([
    ['slower', 60],
    ['faster', 30],
  ])('keeps an endpoint whose first answer was %s than the calibrated guess in rotation', async (_how, firstMs) => {
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80'],
      clock,
      random: seededRandom(8),
    })
    const counts = new Map<string, number>()
    const answered = new Set<string>()
    // Every endpoint's first answer pays a handshake (the fleet's first: 40 ms; the others'
    // `firstMs`), later ones take 1 ms. Taken as a measurement, the third endpoint's first answer
    // (or the calibrated guess it left standing) lost every comparison with its peers' 1 ms for the
    // ~30 s its decay needed.
    for (let i = 0; i < 300; i++) {
      const id = await balancer.call(async (endpoint) => {
        const first = !answered.has(endpoint.id)
        answered.add(endpoint.id)
        await clock.advance(first ? (answered.size === 1 ? 40 : firstMs) : 1)
        return endpoint.id
      })
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    expect(counts.size).toBe(3)
    for (const n of counts.values()) expect(n).toBeGreaterThan(50)
    await balancer.close()
  })
})
