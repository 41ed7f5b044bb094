import { describe, expect, it } from 'vitest'
import {
  Balancer,
  type Discovery,
  DiscoveryError,
  type DiscoveryUpdate,
  NoEndpointAvailableError,
  staticDiscovery,
} from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'
const C = 'http://10.0.0.3:80'

/** A source the test drives by hand: `send` delivers an update to the balancer. */
function manualSource() {
  let listener: ((update: DiscoveryUpdate) => void) | undefined
  let disposed = 0
  const source: Discovery = {
    watch(l) {
      listener = l
      return () => {
        disposed++
      }
    },
  }
  return {
    source,
    send: (update: DiscoveryUpdate) => listener!(update),
    get disposed() {
      return disposed
    },
  }
}

function ids(balancer: Balancer<unknown>): string[] {
  return balancer.endpoints.map((e) => e.id).sort()
}

describe('staticDiscovery', () => {
  it('answers a watcher at once and every watcher on update, until it disposes', () => {
    const source = staticDiscovery([A])
    const seen: DiscoveryUpdate[] = []
    const other: DiscoveryUpdate[] = []
    const stop = source.watch((u) => seen.push(u))
    source.watch((u) => other.push(u))
    expect(seen).toEqual([{ endpoints: [A] }])
    source.update([A, B])
    stop()
    source.update([B])
    expect(seen).toEqual([{ endpoints: [A] }, { endpoints: [A, B] }])
    expect(other.map((u) => u.endpoints)).toEqual([[A], [A, B], [B]])
    expect(source.endpoints).toEqual([B])
  })

  it('has not answered when built without a list', () => {
    const source = staticDiscovery()
    const seen: DiscoveryUpdate[] = []
    source.watch((u) => seen.push(u))
    expect(seen).toEqual([])
    expect(source.endpoints).toBeUndefined()
  })

  it('rejects a bad list where it is given, naming the entry', () => {
    expect(() => staticDiscovery(['http://10.0.0.1:99999'])).toThrow(/`endpoints\[0\]`/)
    const source = staticDiscovery([A])
    expect(() => source.update([A, 'http://10.0.0.1'])).toThrow(/`endpoints\[1\]`.*same id as endpoints\[0\]/)
    expect(() => source.update('x' as never)).toThrow(TypeError)
    expect(source.endpoints).toEqual([A])
  })
})

describe('a balancer on a discovery source', () => {
  it('takes calls at once when the source answers synchronously', async () => {
    const balancer = new Balancer({ discovery: staticDiscovery([A]), clock: new ManualClock() })
    await expect(balancer.call((e) => e.id)).resolves.toBe(A)
    await balancer.ready()
    await balancer.close()
  })

  it('diffs snapshots: ids that stay keep their state and client, new ones start, missing ones drain', async () => {
    const source = staticDiscovery([A, B])
    const closed: string[] = []
    const balancer = new Balancer({
      discovery: source,
      clock: new ManualClock(),
      createClient: (e) => ({ id: e.id }),
      closeClient: (c) => {
        closed.push(c.id)
      },
    })
    const events: string[] = []
    balancer.on('endpointAdded', ({ endpoint }) => events.push(`+${endpoint.id}`))
    balancer.on('endpointRemoved', ({ endpoint }) => events.push(`-${endpoint.id}`))
    const a = balancer.endpoints.find((e) => e.id === A)!
    const clientA = a.client
    source.update([A, C, { url: B, weight: 3 }].reverse())
    expect(events).toEqual([`+${C}`])
    expect(balancer.endpoints.find((e) => e.id === A)).toBe(a)
    expect(a.client).toBe(clientA)
    expect(balancer.endpoints.find((e) => e.id === B)!.weight).toBe(3)
    source.update([C])
    expect(events).toEqual([`+${C}`, `-${A}`, `-${B}`])
    expect(closed).toEqual([A])
    expect(ids(balancer)).toEqual([C])
    await balancer.close()
  })

  it('makes update, add and remove throw', async () => {
    const balancer = new Balancer({ discovery: staticDiscovery([A]), clock: new ManualClock() })
    expect(() => balancer.update([B])).toThrow(
      /balancer\.update\(\) is not available when the `discovery` option is set/,
    )
    expect(() => balancer.add(B)).toThrow(TypeError)
    expect(() => balancer.remove(A)).toThrow(TypeError)
    expect(ids(balancer)).toEqual([A])
    await balancer.close()
  })

  it('keeps the last set on an error, an empty answer or a bad snapshot, and reports each', async () => {
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock: new ManualClock() })
    const errors: unknown[] = []
    balancer.on('discoveryError', ({ error }) => errors.push(error))
    send({ endpoints: [A, B] })
    const failure = new Error('registry down')
    send({ error: failure })
    send({ endpoints: [] })
    send({ endpoints: [A, 'http://10.0.0.2:0'] })
    send({ endpoints: [A, A] })
    send(null as never)
    expect(ids(balancer)).toEqual([A, B])
    expect(errors[0]).toBe(failure)
    expect(errors[1]).toBeInstanceOf(DiscoveryError)
    expect((errors[1] as DiscoveryError).code).toBe('KEEL_DISCOVERY')
    expect(String(errors[2])).toMatch(/`discovery\[1\]`/)
    expect(String(errors[3])).toMatch(/`discovery\[1\]`.*same id as discovery\[0\]/)
    expect(errors[4]).toBeInstanceOf(DiscoveryError)
    expect(errors).toHaveLength(5)
    await balancer.close()
  })

  it('applies an empty answer with allowEmpty: calls then fail as empty', async () => {
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, allowEmpty: true, clock: new ManualClock() })
    const errors: unknown[] = []
    balancer.on('discoveryError', ({ error }) => errors.push(error))
    send({ endpoints: [A] })
    send({ endpoints: [] })
    expect(errors).toEqual([])
    expect(balancer.endpoints).toEqual([])
    const error = await balancer.call(() => 'x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NoEndpointAvailableError)
    expect((error as NoEndpointAvailableError).reason).toBe('empty')
    await balancer.close()
  })

  it('applies the balancer servername to discovered endpoints that give none', async () => {
    const source = staticDiscovery([A, { url: B, servername: 'b.example' }])
    const balancer = new Balancer({ discovery: source, servername: 'svc.example', clock: new ManualClock() })
    expect(balancer.endpoints.map((e) => e.servername).sort()).toEqual(['b.example', 'svc.example'])
    await balancer.close()
  })

  it('stops watching on close, ignores later answers, and reports a dispose that throws', async () => {
    const manual = manualSource()
    const balancer = new Balancer({ discovery: manual.source, clock: new ManualClock() })
    manual.send({ endpoints: [A] })
    await balancer.close()
    expect(manual.disposed).toBe(1)
    manual.send({ endpoints: [B] })
    expect(ids(balancer)).toEqual([A])

    const throwing: Discovery = {
      watch: (l) => {
        l({ endpoints: [A] })
        return () => {
          throw new Error('dispose failed')
        }
      },
    }
    const other = new Balancer({ discovery: throwing, clock: new ManualClock() })
    const errors: unknown[] = []
    other.on('discoveryError', ({ error }) => errors.push(error))
    await other.close()
    expect(String(errors[0])).toMatch(/dispose failed/)
  })

  it('rejects a source whose watch does not return a dispose function', () => {
    const bad = { watch: () => undefined } as unknown as Discovery
    expect(() => new Balancer({ discovery: bad })).toThrow(
      /`discovery\.watch` to be a function returning a dispose function/,
    )
    expect(() => new Balancer({ discovery: staticDiscovery([A]), endpoints: [A] })).toThrow(/`discovery`/)
  })
})
