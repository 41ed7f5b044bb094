import { describe, expect, it } from 'vitest'
import { Balancer, BalancerClosedError, staticDiscovery } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'

interface Client {
  readonly n: number
  closes: number
}

function clients() {
  const made: Client[] = []
  return {
    made,
    options: {
      createClient: () => {
        const client: Client = { n: made.length, closes: 0 }
        made.push(client)
        return client
      },
      closeClient: (client: Client) => {
        client.closes++
      },
    },
  }
}

describe('maxConnectionAge', () => {
  it('recreates a client after its age on the next use, closing the old one exactly once', async () => {
    const clock = new ManualClock(0)
    const c = clients()
    // random 0.5: the ±10% jitter is 0, so the age is exactly 10 s.
    const balancer = new Balancer({ endpoints: [A], clock, random: () => 0.5, maxConnectionAge: 10_000, ...c.options })
    const use = () => balancer.call((e) => (e.client as Client).n)
    expect(await use()).toBe(0)
    await clock.advance(9_999)
    expect(await use()).toBe(0)
    expect(c.made[0]!.closes).toBe(0)
    await clock.advance(1)
    expect(await use()).toBe(1)
    expect(await use()).toBe(1)
    expect(c.made.map((m) => m.closes)).toEqual([1, 0])
    await clock.advance(10_000)
    expect(await use()).toBe(2)
    await balancer.close()
    expect(c.made.map((m) => m.closes)).toEqual([1, 1, 1])
  })

  it('jitters each age by ±10%', async () => {
    for (const [random, age] of [
      [0, 9_000],
      [0.999_999, 10_999.99],
    ] as const) {
      const clock = new ManualClock(0)
      const c = clients()
      const balancer = new Balancer({
        endpoints: [A],
        clock,
        random: () => random,
        maxConnectionAge: 10_000,
        ...c.options,
      })
      const endpoint = balancer.endpoints[0]!
      void endpoint.client
      clock.set(Math.floor(age) - 1)
      expect((endpoint.client as Client).n).toBe(0)
      clock.set(Math.ceil(age))
      expect((endpoint.client as Client).n).toBe(1)
      await balancer.close()
    }
  })

  it('keeps a draining endpoint on its client past the age instead of dialling a leaving host', async () => {
    const clock = new ManualClock(0)
    const c = clients()
    const source = staticDiscovery([A])
    const balancer = new Balancer({
      discovery: source,
      clock,
      random: () => 0.5,
      maxConnectionAge: 1_000,
      ...c.options,
    })
    let release!: () => void
    let seen: Client | undefined
    const held = balancer.call(async (e) => {
      await new Promise<void>((r) => (release = r))
      seen = e.client as Client
    })
    const endpoint = balancer.endpoints[0]!
    void endpoint.client
    source.update([B])
    await clock.advance(5_000)
    release()
    await held
    expect(seen).toBe(c.made[0])
    expect(c.made).toHaveLength(1)
    expect(c.made[0]!.closes).toBe(1)
    await balancer.close()
  })

  it('creates nothing after close: a late use throws instead of leaking a client', async () => {
    const clock = new ManualClock(0)
    const c = clients()
    const balancer = new Balancer({ endpoints: [A], clock, ...c.options })
    const endpoint = balancer.endpoints[0]!
    void endpoint.client
    await balancer.close()
    expect(() => endpoint.client).toThrow(BalancerClosedError)
    expect(c.made).toHaveLength(1)
    expect(c.made[0]!.closes).toBe(1)
  })
})
