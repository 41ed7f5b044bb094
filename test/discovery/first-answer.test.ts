import { describe, expect, it } from 'vitest'
import {
  Balancer,
  BalancerClosedError,
  DeadlineExceededError,
  type Discovery,
  DiscoveryError,
  type DiscoveryUpdate,
  NoEndpointAvailableError,
  staticDiscovery,
} from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const A = 'http://10.0.0.1:80'

function manualSource() {
  let listener: ((update: DiscoveryUpdate) => void) | undefined
  const source: Discovery = {
    watch(l) {
      listener = l
      return () => {}
    },
  }
  return { source, send: (update: DiscoveryUpdate) => listener!(update) }
}

/** Settles-or-not probe: `state()` after the promise had every chance to settle. */
function track<T>(promise: Promise<T>) {
  const result: { status: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = { status: 'pending' }
  promise.then(
    (value) => {
      result.status = 'fulfilled'
      result.value = value
    },
    (error: unknown) => {
      result.status = 'rejected'
      result.error = error
    },
  )
  return result
}

describe('calls before the first answer', () => {
  it('wait for the first snapshot, then run', async () => {
    const clock = new ManualClock()
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock })
    let runs = 0
    const call = track(
      balancer.call((e) => {
        runs++
        return e.id
      }),
    )
    const timed = track(balancer.call((e) => e.id, { timeout: 5_000 }))
    await clock.advance(3_000)
    expect([call.status, timed.status, runs]).toEqual(['pending', 'pending', 0])
    send({ endpoints: [A] })
    await clock.advance(0)
    expect(call).toEqual({ status: 'fulfilled', value: A })
    expect(timed).toEqual({ status: 'fulfilled', value: A })
    await balancer.close()
  })

  it('fail at their own timeout, which counts the wait', async () => {
    const clock = new ManualClock()
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock })
    const never = track(balancer.call(() => 'x', { timeout: 100 }))
    const late = track(balancer.call(() => new Promise(() => {}), { timeout: 100 }))
    await clock.advance(99)
    expect(never.status).toBe('pending')
    await clock.advance(1)
    expect(never.error).toBeInstanceOf(DeadlineExceededError)
    expect(late.error).toBeInstanceOf(DeadlineExceededError)

    const second = track(balancer.call(() => new Promise(() => {}), { timeout: 100 }))
    await clock.advance(60)
    send({ endpoints: [A] })
    await clock.advance(39)
    expect(second.status).toBe('pending')
    await clock.advance(1)
    expect(second.error).toBeInstanceOf(DeadlineExceededError)
    await balancer.close()
  })

  it('fail with the signal reason when their caller aborts', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ discovery: manualSource().source, clock })
    const controller = new AbortController()
    const call = track(balancer.call(() => 'x', { signal: controller.signal }))
    await clock.advance(10)
    controller.abort(new Error('caller gave up'))
    await clock.advance(0)
    expect(String(call.error)).toMatch(/caller gave up/)
    await expect(balancer.call(() => 'x', { signal: controller.signal })).rejects.toThrow(/caller gave up/)
    await balancer.close()
  })

  it('fail as empty with the cause when the first answer is an error; later calls fail at once', async () => {
    const clock = new ManualClock()
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock })
    const errors: unknown[] = []
    balancer.on('discoveryError', ({ error }) => errors.push(error))
    const call = track(balancer.call(() => 'x'))
    const failure = new Error('SERVFAIL')
    send({ error: failure })
    await clock.advance(0)
    expect(call.error).toBeInstanceOf(NoEndpointAvailableError)
    expect((call.error as NoEndpointAvailableError).reason).toBe('empty')
    expect((call.error as Error).cause).toBe(failure)
    expect(errors).toEqual([failure])
    await expect(balancer.call(() => 'x')).rejects.toBeInstanceOf(NoEndpointAvailableError)
    send({ endpoints: [A] })
    await expect(balancer.call((e) => e.id)).resolves.toBe(A)
    await balancer.close()
  })

  it('fail the same way when the first answer is empty without allowEmpty', async () => {
    const clock = new ManualClock()
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock })
    balancer.on('discoveryError', () => {})
    const call = track(balancer.call(() => 'x'))
    send({ endpoints: [] })
    await clock.advance(0)
    expect((call.error as Error).cause).toBeInstanceOf(DiscoveryError)
    await balancer.close()
  })

  it('fail with BalancerClosedError when the balancer closes first, leaving no timer', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ discovery: manualSource().source, clock })
    const call = track(balancer.call(() => 'x', { timeout: 1_000 }))
    const ready = track(balancer.ready())
    await clock.advance(1)
    await balancer.close()
    await clock.advance(0)
    expect(call.error).toBeInstanceOf(BalancerClosedError)
    expect(ready.error).toBeInstanceOf(BalancerClosedError)
    expect(clock.pending).toBe(0)
  })
})

describe('balancer.ready()', () => {
  it('resolves at once with endpoints or a synchronous source', async () => {
    const fixed = new Balancer({ endpoints: [A], clock: new ManualClock() })
    await expect(fixed.ready()).resolves.toBeUndefined()
    const listed = new Balancer({ discovery: staticDiscovery([A]), clock: new ManualClock() })
    await expect(listed.ready()).resolves.toBeUndefined()
    await fixed.close()
    await listed.close()
    await expect(fixed.ready()).rejects.toBeInstanceOf(BalancerClosedError)
  })

  it('waits across discovery errors for the first applied set', async () => {
    const clock = new ManualClock()
    const { source, send } = manualSource()
    const balancer = new Balancer({ discovery: source, clock })
    balancer.on('discoveryError', () => {})
    const ready = track(balancer.ready())
    send({ error: new Error('down') })
    send({ endpoints: [] })
    await clock.advance(0)
    expect(ready.status).toBe('pending')
    send({ endpoints: [A] })
    await clock.advance(0)
    expect(ready.status).toBe('fulfilled')
    await balancer.close()
  })

  it('rejects with the signal reason on abort and checks its argument', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ discovery: manualSource().source, clock })
    const controller = new AbortController()
    const ready = track(balancer.ready({ signal: controller.signal }))
    controller.abort(new Error('startup timeout'))
    await clock.advance(0)
    expect(String(ready.error)).toMatch(/startup timeout/)
    await expect(balancer.ready({ signal: 'soon' as never })).rejects.toThrow(/`signal`/)
    await balancer.close()
  })
})
