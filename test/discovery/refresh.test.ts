import { describe, expect, it } from 'vitest'
import { Balancer, type Discovery, type DiscoveryUpdate, type NoEndpointAvailableError } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'

/** A source that counts refresh() calls; `onRefresh` may answer from inside refresh(). */
function refreshable(initial: string[]) {
  let listener: ((update: DiscoveryUpdate) => void) | undefined
  const state = { refreshes: 0, onRefresh: undefined as (() => void) | undefined }
  const source: Discovery = {
    watch(l) {
      listener = l
      l({ endpoints: initial })
      return () => {}
    },
    refresh() {
      state.refreshes++
      state.onRefresh?.()
    },
  }
  return { source, state, send: (u: DiscoveryUpdate) => listener!(u) }
}

const fail = () => {
  throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
}

/** One endpoint whose breaker opens on its first failure: every endpoint ejected. */
function ejectingBalancer(source: Discovery, clock: ManualClock) {
  return new Balancer({
    discovery: source,
    clock,
    retry: false,
    // The breaker alone ejects (outlier detection would eject the refused endpoint too).
    outlierDetection: false,
    breaker: { volumeThreshold: 1, resetTimeout: 60_000 },
  })
}

describe('refresh requests to discovery', () => {
  it('asks discovery again when every endpoint is ejected', async () => {
    const clock = new ManualClock()
    const { source, state } = refreshable([A])
    const balancer = ejectingBalancer(source, clock)
    let ejected = 0
    balancer.on('ejected', () => ejected++)
    await balancer.call(fail).catch(() => {})
    await clock.advance(0)
    expect(ejected).toBe(1)
    expect(state.refreshes).toBe(1)
    await balancer.close()
  })

  it('asks at most once per second however many calls find nothing', async () => {
    const clock = new ManualClock()
    const { source, state, send } = refreshable([A])
    const balancer = new Balancer({ discovery: source, clock, allowEmpty: true })
    send({ endpoints: [] })
    for (let i = 0; i < 50; i++) await balancer.call(() => 'x').catch(() => {})
    await clock.advance(999)
    await balancer.call(() => 'x').catch(() => {})
    await clock.advance(0)
    expect(state.refreshes).toBe(1)
    await clock.advance(1)
    await balancer.call(() => 'x').catch(() => {})
    await clock.advance(0)
    expect(state.refreshes).toBe(2)
    await balancer.close()
  })

  it('asks when the set is empty, not when every endpoint is only at its in-flight cap', async () => {
    const clock = new ManualClock()
    const { source, state, send } = refreshable([A])
    const balancer = new Balancer({ discovery: source, clock, allowEmpty: true, maxInFlightPerEndpoint: 1 })
    let release!: () => void
    const held = balancer.call(() => new Promise<void>((r) => (release = r)))
    const saturated = await balancer.call(() => 'x').catch((e: unknown) => e)
    expect((saturated as NoEndpointAvailableError).reason).toBe('saturated')
    await clock.advance(0)
    expect(state.refreshes).toBe(0)
    release()
    await held
    send({ endpoints: [] })
    await balancer.call(() => 'x').catch(() => {})
    await clock.advance(0)
    expect(state.refreshes).toBe(1)
    await balancer.close()
  })

  it('lets a source answer from inside refresh() without disturbing the pick that asked', async () => {
    const clock = new ManualClock()
    const { source, state, send } = refreshable([A])
    state.onRefresh = () => send({ endpoints: [B] })
    const balancer = ejectingBalancer(source, clock)
    const first = await balancer.call(fail).catch((e: unknown) => e)
    expect((first as Error).message).toBe('refused')
    await clock.advance(0)
    expect(state.refreshes).toBe(1)
    expect(balancer.endpoints.map((e) => e.id)).toEqual([B])
    await expect(balancer.call((e) => e.id)).resolves.toBe(B)
    await balancer.close()
  })

  it('reports a refresh() that throws as discoveryError and keeps serving', async () => {
    const clock = new ManualClock()
    const { source, state } = refreshable([A])
    state.onRefresh = () => {
      throw new Error('refresh broke')
    }
    const balancer = ejectingBalancer(source, clock)
    const errors: unknown[] = []
    balancer.on('discoveryError', ({ error }) => errors.push(error))
    await balancer.call(fail).catch(() => {})
    await clock.advance(0)
    expect(String(errors[0])).toMatch(/refresh broke/)
    // Panic mode keeps the only endpoint in use (docs/priorities.md): calls still go out.
    await expect(balancer.call(() => 'x')).resolves.toBe('x')
    await balancer.close()
  })

  it('stops asking after close', async () => {
    const clock = new ManualClock()
    const { source, state } = refreshable([A])
    const balancer = ejectingBalancer(source, clock)
    await balancer.close()
    expect(state.refreshes).toBe(0)
    await clock.advance(5_000)
    expect(state.refreshes).toBe(0)
  })
})
