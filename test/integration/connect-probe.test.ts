// Re-admission of an endpoint ejected for a refused connect: TCP connect probes to its port, not
// requests (no caller's request spent, no restore/eject churn), then a restore on probation as
// soon as the port listens. Real sockets on 127.0.0.1 through each HTTP adapter (whose refused
// connects must be recognised as such), on the injected clock.
import { describe, expect, it } from 'vitest'
import { Balancer, type EjectedEvent, type PickerFactory, seededRandom } from '../../src/index.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { ManualClock } from '../helpers/clock.ts'
import { trackSockets } from '../helpers/live-sockets.ts'
import { closedPort, startServer } from '../helpers/servers.ts'
import { axiosDriver } from './adapters/axios-driver.ts'
import { fetchDriver } from './adapters/fetch-driver.ts'
import { undiciDriver } from './adapters/undici-driver.ts'

const cleanups = cleanupsAfterEach()

/** Prefers the endpoint on `port` whenever it may be picked, so every call would go to it. */
function prefer(port: number): PickerFactory {
  return {
    name: 'prefer',
    build: (endpoints) => ({
      pick: (context) => {
        const first = endpoints.find((e) => e.endpoint.port === port)
        if (first?.pickable && !context.skipped(first)) return first
        return endpoints.find((e) => e.pickable && !context.skipped(e))
      },
    }),
  }
}

/** Awaits `pending` while moving the injected clock (retries wait their backoff on it). */
async function settle<T>(clock: ManualClock, pending: Promise<T>): Promise<T> {
  let done = false
  pending.then(
    () => (done = true),
    () => (done = true),
  )
  while (!done) await clock.advance(5)
  return pending
}

describe.each([fetchDriver, undiciDriver, axiosDriver])('$name', (driver) => {
  it('probes a refused endpoint with TCP connects, then restores it within 2 s of listening', async () => {
    const sockets = trackSockets()
    sockets.start()
    cleanups.push(() => sockets.stop())
    const live = await startServer(undefined, 0, { keepAliveTimeout: driver.keepAliveTimeout })
    cleanups.push(() => live.close())
    const port = await closedPort()
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: [`http://127.0.0.1:${port}`, live.url],
      picker: prefer(port),
      clock,
      random: seededRandom(3),
    })
    cleanups.push(() => balancer.close())
    const events: { kind: string; reason: string; at: number }[] = []
    const log = (kind: string) => (e: EjectedEvent) => events.push({ kind, reason: e.reason, at: clock.now() })
    balancer.on('ejected', log('ejected'))
    balancer.on('restored', log('restored'))
    const client = driver.client(balancer)

    // Refused on the first endpoint, answered by the second.
    expect(await settle(clock, client.get('/'))).toMatchObject({ status: 200 })
    expect(events.map((e) => [e.kind, e.reason])).toEqual([['ejected', 'consecutive-not-sent']])

    // Two probes while the port still refuses: each is one client socket, and nothing else.
    for (let k = 0; k < 2; k++) {
      const open = sockets.live()
      const created = sockets.created()
      const since = clock.now()
      while (sockets.created() === created && clock.now() - since < 5_000) await clock.advance(50)
      expect(sockets.created()).toBe(created + 1)
      await sockets.droppedTo(open)
      await clock.advance(0)
    }
    expect(events.map((e) => e.kind)).toEqual(['ejected'])

    // The port listens again: the next probe connects and the endpoint is back on probation.
    const back = await startServer(undefined, port, { keepAliveTimeout: driver.keepAliveTimeout })
    cleanups.push(() => back.close())
    const listening = clock.now()
    while (events.length === 1 && clock.now() - listening < 5_000) await clock.advance(50)
    expect(events.at(-1)).toMatchObject({ kind: 'restored', reason: 'probe' })
    expect(events.at(-1)!.at - listening).toBeLessThanOrEqual(2_000)
    expect(back.requests).toHaveLength(0)
    expect(back.connections).toBe(1)

    // Its first request is the probation's trial; it answers, and the endpoint takes the calls.
    expect(await settle(clock, client.get('/'))).toMatchObject({ status: 200 })
    expect(await settle(clock, client.get('/'))).toMatchObject({ status: 200 })
    expect(back.requests).toHaveLength(2)
    expect(balancer.snapshot().endpoints[0]!.state).toBe('active')
  })
})
