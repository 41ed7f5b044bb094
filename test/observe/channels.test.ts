import diagnostics_channel from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { Balancer, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const NAMES = ['keel:call:start', 'keel:call:end', 'keel:attempt:start', 'keel:attempt:end', 'keel:endpoint:state']

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Subscribes to every keel channel; returns the messages as `[channel, message]`, in order. */
function subscribeAll(): [string, Record<string, unknown>][] {
  const seen: [string, Record<string, unknown>][] = []
  for (const name of NAMES) {
    const listener = (message: unknown) => seen.push([name, message as Record<string, unknown>])
    diagnostics_channel.subscribe(name, listener)
    cleanups.push(() => {
      diagnostics_channel.unsubscribe(name, listener)
    })
  }
  return seen
}

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
}

describe('diagnostics channels', () => {
  it('publishes every call and every attempt, in order, with their outcome', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({
      endpoints: [A, B],
      clock,
      random: seededRandom(1),
      picker: 'round-robin',
      breaker: false,
      outlierDetection: false,
      retry: { retries: 1, minTimeout: 0, maxTimeout: 0 },
    })
    cleanups.push(() => balancer.close())
    const seen = subscribeAll()
    const fn = (endpoint: { id: string }) =>
      endpoint.id === B
        ? Promise.reject(refused())
        : new Promise<string>((resolve) => clock.setTimeout(() => resolve('ok'), 10))
    for (let i = 0; i < 3; i++) {
      const pending = balancer.call(fn)
      await flush()
      await clock.advance(10)
      await pending
    }
    await balancer.call(() => 'sync')
    const calls = seen.filter(([name]) => name === 'keel:call:end').map(([, m]) => [m.callId, m.outcome, m.attempts])
    const ids = calls.map(([id]) => id as number)
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2, ids[0]! + 3])
    const attemptEnds = seen.filter(([name]) => name === 'keel:attempt:end').map(([, m]) => m)
    const attemptStarts = seen.filter(([name]) => name === 'keel:attempt:start').map(([, m]) => m)
    // Every attempt starts and ends once, each with its call's id and number.
    expect(attemptStarts.map((m) => [m.callId, m.attempt, (m.endpoint as { id: string }).id])).toEqual(
      attemptEnds.map((m) => [m.callId, m.attempt, (m.endpoint as { id: string }).id]),
    )
    const perCall = new Map<number, string[]>()
    for (const m of attemptEnds)
      perCall.set(m.callId as number, [...(perCall.get(m.callId as number) ?? []), m.verdict as string])
    expect(calls.map(([id, outcome, n]) => [outcome, n, perCall.get(id as number)])).toEqual(
      calls.map(([id]) => {
        const verdicts = perCall.get(id as number)!
        return ['success', verdicts.length, verdicts]
      }),
    )
    expect(
      attemptEnds.filter((m) => m.verdict === 'not-sent').every((m) => m.retried === true && m.error instanceof Error),
    ).toBe(true)
    expect(seen.filter(([name]) => name === 'keel:call:start')).toHaveLength(4)
    // Start before its attempts, end after them.
    const order = seen.filter(([, m]) => m.callId === ids[0]).map(([name]) => name)
    expect(order[0]).toBe('keel:call:start')
    expect(order.at(-1)).toBe('keel:call:end')
    for (const [, m] of seen) expect(m.balancer).toBe(balancer)
  })

  it('publishes endpoint state changes with their cause', async () => {
    const balancer = new Balancer({
      endpoints: [A, B],
      random: seededRandom(1),
      picker: 'round-robin',
      outlierDetection: { consecutiveNotSent: 1 },
      breaker: false,
    })
    cleanups.push(() => balancer.close())
    const seen = subscribeAll()
    await balancer.call((endpoint) => (endpoint.id === B ? Promise.reject(refused()) : 'ok'))
    await balancer.call((endpoint) => (endpoint.id === B ? Promise.reject(refused()) : 'ok'))
    balancer.remove(A)
    const states = seen.filter(([name]) => name === 'keel:endpoint:state').map(([, m]) => m)
    expect(states.map((m) => [(m.endpoint as { id: string }).id, m.change, m.state, m.detector, m.reason])).toEqual([
      [B, 'ejected', 'ejected', 'outlier', 'consecutive-not-sent'],
      [A, 'endpointRemoved', 'draining', undefined, undefined],
    ])
  })

  it('publishes a failed call with its error and outcome', async () => {
    const balancer = new Balancer({ endpoints: [A], retry: false })
    cleanups.push(() => balancer.close())
    const seen = subscribeAll()
    const error = refused()
    await expect(balancer.call(() => Promise.reject(error))).rejects.toBe(error)
    const end = seen.find(([name]) => name === 'keel:call:end')![1]
    expect(end).toMatchObject({ outcome: 'not-sent', attempts: 1, error })
  })
})
