import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { startServer } from '../helpers/servers.ts'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

const HEDGE_DELAY = 50
const STALL_MS = 400

/**
 * Real servers on 127.0.0.1; one stalls every 20th request it receives (deterministic) and tells
 * the test. Hedge timers run on the injected clock: when a call's request stalls, the test moves
 * the clock by the hedge delay, so every figure below is exact in injected time (real-time tail
 * latency is bench/hedging.ts's job).
 */
async function setup(options: BalancerOptions = {}) {
  const clock = new ManualClock()
  let onStall: ((id: string) => void) | undefined
  let n = 0
  const stalled: string[] = []
  const a = await startServer((req: IncomingMessage, res: ServerResponse) => {
    n++
    if (n % 20 !== 0) return res.end('ok')
    const id = String(req.headers['x-call'])
    stalled.push(id)
    const timer = setTimeout(() => res.end('late'), STALL_MS)
    res.on('close', () => clearTimeout(timer))
    onStall?.(id)
  })
  const others = [await startServer(), await startServer()]
  open.push(a, ...others)
  const balancer = new Balancer({
    endpoints: [a.url, ...others.map((s) => s.url)],
    picker: 'round-robin',
    random: seededRandom(9),
    clock,
    hedge: { delay: HEDGE_DELAY },
    ...options,
  })
  open.push(balancer)
  let hedges = 0
  balancer.on('hedge', () => hedges++)

  /** Runs `count` calls one after another; returns each call's duration in injected time. */
  async function drive(count: number, idempotent: boolean): Promise<Map<string, number>> {
    const durations = new Map<string, number>()
    for (let i = 0; i < count; i++) {
      const id = String(i)
      const started = clock.now()
      const stall = new Promise<'stalled'>((resolve) => {
        onStall = (which) => which === id && resolve('stalled')
      })
      const call = balancer.call(
        async (endpoint, attempt) => {
          const res = await fetch(endpoint.resolve('/'), { headers: { 'x-call': id }, signal: attempt.signal })
          return res.text()
        },
        { idempotent },
      )
      if ((await Promise.race([call.then(() => 'done' as const), stall])) === 'stalled') {
        await clock.advance(HEDGE_DELAY)
        await call
      }
      durations.set(id, clock.now() - started)
    }
    return durations
  }
  return { balancer, stalled, drive, hedgeCount: () => hedges }
}

describe('hedging against a server that stalls every 20th request', () => {
  it('completes every stalled call within the hedge delay + 50 ms, with few hedges and nothing counted against the losers', async () => {
    const { balancer, stalled, drive, hedgeCount } = await setup()
    const calls = 300
    const durations = await drive(calls, true)
    expect(stalled.length).toBeGreaterThanOrEqual(4)
    for (const id of stalled) expect(durations.get(id)).toBeLessThanOrEqual(HEDGE_DELAY + 50)
    expect(hedgeCount()).toBeLessThanOrEqual(stalled.length + 0.02 * calls)
    const snapshot = balancer.snapshot()
    expect(snapshot.endpoints.map((e) => e.failures)).toEqual([0, 0, 0])
    expect(snapshot.endpoints.map((e) => e.ejections)).toEqual([0, 0, 0])
    expect(snapshot.endpoints.every((e) => e.state === 'active')).toBe(true)
  })

  it('never hedges a non-idempotent call', async () => {
    const { stalled, drive, hedgeCount } = await setup()
    await drive(80, false)
    expect(stalled.length).toBeGreaterThan(0)
    expect(hedgeCount()).toBe(0)
  })

  it('starts no hedge when the retry budget is empty', async () => {
    const { balancer, stalled, drive, hedgeCount } = await setup({ retry: { budget: { percent: 0, minPerSecond: 0 } } })
    let exhausted = 0
    balancer.on('budgetExhausted', () => exhausted++)
    await drive(80, true)
    expect(stalled.length).toBeGreaterThan(0)
    expect(hedgeCount()).toBe(0)
    expect(exhausted).toBe(stalled.length)
  })
})
