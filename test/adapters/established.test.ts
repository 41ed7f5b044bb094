import { describe, expect, it } from 'vitest'
import { adapterPort } from '../../src/core/port-access.ts'
import { Balancer } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

/** An attempt `fn` that is established on `connect()`, then stays open until `release()`. */
function longLived(balancer: Balancer<unknown>) {
  const port = adapterPort(balancer)
  let connect!: () => void
  let release!: () => void
  const connected = new Promise<void>((resolve) => (connect = resolve))
  const held = new Promise<void>((resolve) => (release = resolve))
  const fn = async (_endpoint: unknown, attempt: object) => {
    await connected
    port.established(attempt)
    await held
  }
  return { fn, connect: () => connect(), release: () => release() }
}

describe('AdapterPort.established()', () => {
  it('takes the latency sample when the exchange is established, not when it ends', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: ['tcp://10.0.0.1:5432'], clock })
    const durations: number[] = []
    balancer.on('attempt', (e) => durations.push(e.durationMs))
    const { fn, connect, release } = longLived(balancer)
    const call = balancer.call(fn)
    await clock.advance(12)
    connect()
    await clock.advance(60_000)
    release()
    await call
    expect(durations).toEqual([12])
    await balancer.close()
  })

  it('stops the attempt timeout once established', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: ['tcp://10.0.0.1:5432'], clock, attemptTimeout: 50 })
    const verdicts: string[] = []
    balancer.on('attempt', (e) => verdicts.push(e.verdict))
    const { fn, connect, release } = longLived(balancer)
    const call = balancer.call(fn, { timeout: 2_147_483_647 })
    await clock.advance(10)
    connect()
    await clock.advance(1_000)
    expect(verdicts).toEqual([])
    release()
    await call
    expect(verdicts).toEqual(['success'])
    await balancer.close()
  })

  it('ignores objects that are not this balancer’s attempts', () => {
    const balancer = new Balancer({ endpoints: ['tcp://10.0.0.1:5432'] })
    expect(() => adapterPort(balancer).established({})).not.toThrow()
    void balancer.close()
  })
})
