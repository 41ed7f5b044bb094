import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions } from '../../src/index.ts'
import { startServer, type TestServer } from '../helpers/servers.ts'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

const HEDGE_DELAY = 50

/** Answers at once, except every 20th request it receives, which stalls 1 s (deterministic). */
function stallEvery20th(stalled: Set<string>) {
  let n = 0
  return (req: IncomingMessage, res: ServerResponse) => {
    n++
    if (n % 20 !== 0) return res.end('ok')
    stalled.add(String(req.headers['x-call']))
    const timer = setTimeout(() => res.end('late'), 1_000)
    res.on('close', () => clearTimeout(timer))
  }
}

async function setup(options: BalancerOptions = {}) {
  const stalled = new Set<string>()
  const a = await startServer(stallEvery20th(stalled))
  const others: TestServer[] = [await startServer(), await startServer()]
  open.push(a, ...others)
  const balancer = new Balancer({
    endpoints: [a.url, ...others.map((s) => s.url)],
    picker: 'round-robin',
    hedge: { delay: HEDGE_DELAY },
    ...options,
  })
  open.push(balancer)
  const hedged = new Set<number>()
  balancer.on('hedge', ({ attempt }) => hedged.add(attempt))
  let hedges = 0
  balancer.on('hedge', () => hedges++)
  return { a, others, balancer, stalled, hedgeCount: () => hedges }
}

async function drive(balancer: Balancer<unknown>, calls: number, idempotent: boolean) {
  const durations = new Map<string, number>()
  let next = 0
  const worker = async () => {
    while (next < calls) {
      const id = String(next++)
      const started = performance.now()
      await balancer.call(
        async (endpoint, attempt) => {
          const res = await fetch(endpoint.resolve('/'), { headers: { 'x-call': id }, signal: attempt.signal })
          return res.text()
        },
        { idempotent },
      )
      durations.set(id, performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: 2 }, worker))
  return durations
}

describe('hedging against a server that stalls every 20th request', () => {
  it('completes every stalled call within the hedge delay + 50 ms, with few hedges and nothing counted against the losers', async () => {
    const { balancer, stalled, hedgeCount } = await setup()
    const calls = 300
    const durations = await drive(balancer, calls, true)
    expect(stalled.size).toBeGreaterThan(0)
    const slowest = Math.max(...[...stalled].map((id) => durations.get(id)!))
    console.log(
      `stalled calls: ${stalled.size}, hedges: ${hedgeCount()}, slowest stalled call: ${slowest.toFixed(1)} ms`,
    )
    for (const id of stalled) expect(durations.get(id)).toBeLessThanOrEqual(HEDGE_DELAY + 50)
    expect(hedgeCount()).toBeLessThanOrEqual(stalled.size + 0.02 * calls)
    const snapshot = balancer.snapshot()
    expect(snapshot.endpoints.map((e) => e.failures)).toEqual([0, 0, 0])
    expect(snapshot.endpoints.map((e) => e.ejections)).toEqual([0, 0, 0])
    expect(snapshot.endpoints.every((e) => e.state === 'active')).toBe(true)
  })

  it('never hedges a non-idempotent call', async () => {
    const { balancer, stalled, hedgeCount } = await setup()
    const durations = await drive(balancer, 60, false)
    expect(stalled.size).toBeGreaterThan(0)
    expect(hedgeCount()).toBe(0)
    for (const id of stalled) expect(durations.get(id)).toBeGreaterThanOrEqual(1_000 - 5)
  })

  it('starts no hedge when the retry budget is empty', async () => {
    const { balancer, stalled, hedgeCount } = await setup({ retry: { budget: { percent: 0, minPerSecond: 0 } } })
    let exhausted = 0
    balancer.on('budgetExhausted', () => exhausted++)
    await drive(balancer, 60, true)
    expect(stalled.size).toBeGreaterThan(0)
    expect(hedgeCount()).toBe(0)
    // Every stalled call wanted a hedge and met the empty budget (slow ordinary calls may too).
    expect(exhausted).toBeGreaterThanOrEqual(stalled.size)
  })
})
