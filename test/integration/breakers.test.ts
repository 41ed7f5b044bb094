import { afterEach, describe, expect, it } from 'vitest'
import { Balancer } from '../../src/index.ts'
import { trackTimers } from '../helpers/live-timers.ts'
import { startServer } from '../helpers/servers.ts'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

describe('circuit breakers against real servers', () => {
  it('stops sending to the backend answering 503 once its breaker opens, checked on every attempt', async () => {
    const bad = await startServer((_req, res) => {
      res.statusCode = 503
      res.end()
    })
    const good = [await startServer(), await startServer()]
    open.push(bad, ...good)
    const balancer = new Balancer({
      endpoints: [bad.url, ...good.map((s) => s.url)],
      picker: 'round-robin',
      // Isolate the breaker: no outlier detection, no retries.
      outlierDetection: false,
      retry: false,
    })
    open.push(balancer)
    const open_ = new Set<string>()
    balancer.on('breakerOpen', ({ endpoint }) => open_.add(endpoint.id))
    balancer.on('breakerClose', ({ endpoint }) => open_.delete(endpoint.id))
    let violations = 0
    let attempts = 0
    for (let i = 0; i < 300; i++) {
      await balancer
        .call(async (endpoint, attempt) => {
          attempts++
          // The invariant, on every attempt: no attempt reaches an endpoint whose breaker is open.
          if (open_.has(endpoint.id)) violations++
          const res = await fetch(endpoint.resolve('/'), { signal: attempt.signal })
          await res.arrayBuffer()
          return res
        })
        .catch(() => {})
    }
    expect(open_).toEqual(new Set([bad.url]))
    expect(violations).toBe(0)
    expect(attempts).toBe(300)
    // 20 attempts reached it (the volume threshold), then none.
    expect(bad.requests).toHaveLength(20)
    // The other 280 alternate between the good two (one ahead, depending on where the cursor was).
    const served = good.map((s) => s.requests.length)
    expect(served[0]! + served[1]!).toBe(280)
    expect(Math.abs(served[0]! - served[1]!)).toBeLessThanOrEqual(1)
  })

  it('keeps fewer than 20 live timers with breakers on 10,000 endpoints, and none after close()', async () => {
    const timers = trackTimers()
    timers.start()
    try {
      const endpoints = Array.from(
        { length: 10_000 },
        (_, i) => `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`,
      )
      const balancer = new Balancer({ endpoints })
      for (let i = 0; i < 1_000; i++) await balancer.call(async () => i)
      const live = timers.live()
      console.log(`live timers with 10,000 endpoints: ${live}`)
      expect(live).toBeLessThan(20)
      expect(live).toBeGreaterThan(0)
      await balancer.close()
      await new Promise((resolve) => setImmediate(resolve))
      expect(timers.live(), timers.where()).toBe(0)
    } finally {
      timers.stop()
    }
  })
})
