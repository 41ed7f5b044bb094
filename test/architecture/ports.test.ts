// The ports later add-ons and adapters build on: addOnPort (observers, ejection listeners,
// ejection by id) and adapterPort (settings, resource names, attempt control).
import { afterEach, describe, expect, it } from 'vitest'
import { adapterPort, addOnPort } from '../../src/core/port-access.ts'
import type { EjectionChange, EndedAttempt } from '../../src/core/ports.ts'
import { Balancer, type BalancerOptions, seededRandom } from '../../src/index.ts'
import { flush, ManualClock } from '../helpers/clock.ts'

const balancers: Balancer<unknown>[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})

function make(options: BalancerOptions = {}) {
  const clock = new ManualClock()
  const balancer = new Balancer({
    endpoints: ['http://10.0.0.1:80', 'http://10.0.0.2:80'],
    clock,
    random: seededRandom(1),
    picker: 'round-robin',
    retry: false,
    ...options,
  })
  balancers.push(balancer)
  return { balancer, clock }
}

describe('addOnPort', () => {
  it('feeds an attempt observer once per ended attempt, after keel has classified and counted it', async () => {
    const { balancer, clock } = make()
    const seen: string[] = []
    const remove = addOnPort(balancer).addAttemptObserver({
      attemptEnded(attempt: EndedAttempt, now: number) {
        const requests = balancer.snapshot().endpoints.find((e) => e.id === attempt.endpoint.id)!.requests
        seen.push(
          `${attempt.endpoint.id} ${attempt.verdict} #${attempt.number} ${attempt.durationMs}ms at ${now} (${requests})`,
        )
      },
    })
    await balancer.call(async () => {
      await clock.advance(5)
      return 'ok'
    })
    await balancer.call(() => Promise.reject(Object.assign(new Error('503'), { status: 503 }))).catch(() => {})
    remove()
    await balancer.call(async () => 'ok')
    // Round-robin starts at a seeded offset: the second endpoint first.
    expect(seen).toEqual([
      'http://10.0.0.2:80 success #1 5ms at 1005 (1)',
      'http://10.0.0.1:80 endpoint-failure #1 0ms at 1005 (1)',
    ])
  })

  it('rethrows an observer’s error on a microtask and still ends the attempt', async () => {
    const { balancer } = make()
    addOnPort(balancer).addAttemptObserver({
      attemptEnded() {
        throw new Error('observer bug')
      },
    })
    const errors: unknown[] = []
    const original = globalThis.queueMicrotask
    globalThis.queueMicrotask = (task) =>
      original(() => {
        try {
          task()
        } catch (error) {
          errors.push(error)
        }
      })
    try {
      await expect(balancer.call(async () => 'ok')).resolves.toBe('ok')
      await flush()
    } finally {
      globalThis.queueMicrotask = original
    }
    expect(errors.map((e) => (e as Error).message)).toEqual(['observer bug'])
  })

  it('attaches a member observer to the endpoints tracked now and to each new one, and detaches on drain', async () => {
    const { balancer } = make()
    const seen: string[] = []
    addOnPort(balancer).addMemberObserver({
      attach: (state) => seen.push(`attach ${state.id}`),
      detach: (state) => seen.push(`detach ${state.id}`),
    })
    balancer.add('http://10.0.0.3:80')
    balancer.remove('http://10.0.0.1:80')
    expect(seen).toEqual([
      'attach http://10.0.0.1:80',
      'attach http://10.0.0.2:80',
      'attach http://10.0.0.3:80',
      'detach http://10.0.0.1:80',
    ])
  })

  it('ejects and restores by id through the one ejection state, telling listeners and events', async () => {
    const { balancer, clock } = make({ breaker: false, outlierDetection: false })
    const port = addOnPort(balancer)
    const changes: EjectionChange[] = []
    port.addEjectionListener((change) => changes.push(change))
    const events: string[] = []
    balancer.on('ejected', (e) => events.push(`ejected ${e.endpoint.id} ${e.detector} ${e.reason}`))
    balancer.on('restored', (e) => events.push(`restored ${e.endpoint.id} ${e.detector} ${e.reason}`))

    expect(port.eject('http://10.0.0.9:80', 'health', 'shared: down')).toBe(false)
    expect(port.eject('http://10.0.0.1:80', 'health', 'shared: down', clock.now() + 1_000)).toBe(true)
    await flush()
    expect(balancer.snapshot().endpoints.map((e) => e.state)).toEqual(['unhealthy', 'active'])
    expect(port.restore('http://10.0.0.1:80', 'health', 'shared: up')).toBe(true)
    expect(events).toEqual([
      'ejected http://10.0.0.1:80 health shared: down',
      'restored http://10.0.0.1:80 health shared: up',
    ])
    expect(changes.map((c) => [c.kind, c.endpoint.id, c.detector, c.reason, c.until])).toEqual([
      ['ejected', 'http://10.0.0.1:80', 'health', 'shared: down', 2_000],
      ['restored', 'http://10.0.0.1:80', 'health', 'shared: up', undefined],
    ])
  })

  it('refuses what is not a keel Balancer, naming the option', () => {
    expect(() => addOnPort({}, 'registry.balancer')).toThrow(/registry\.balancer/)
    expect(() => adapterPort(null)).toThrow(/balancer/)
  })
})

describe('adapterPort', () => {
  it('offers the settings, unique resource names and the control of an attempt', async () => {
    const { balancer } = make({ timeout: 2_000, retry: { retries: 3 } })
    const port = adapterPort(balancer)
    expect(port.settings.timeout).toBe(2_000)
    expect(port.settings.retry === false ? 0 : port.settings.retry.retries).toBe(3)
    balancer.resource('pool', { create: () => ({}) })
    expect(port.uniqueResourceName('pool')).toBe('pool#2')
    expect(port.uniqueResourceName('other')).toBe('other')
    expect(port.control({})).toBeUndefined()
  })

  it('takes the verdict an adapter knows', async () => {
    const { balancer } = make()
    const port = adapterPort(balancer)
    const verdicts: string[] = []
    balancer.on('attempt', (e) => verdicts.push(e.verdict))
    await balancer
      .call(async (_endpoint, attempt) => {
        const control = port.control(attempt)!
        expect(control.cancelled).toBe(false)
        control.knownVerdict('not-sent')
        throw new Error('refused before sending')
      })
      .catch(() => {})
    expect(verdicts).toEqual(['not-sent'])
  })

  it('never retries an attempt whose response was handed over', async () => {
    // Without the hand-over, ECONNREFUSED (`not-sent`) is always retried: retries fail fast here.
    const { balancer } = make({ retry: { retries: 3, minTimeout: 0, maxTimeout: 0 } })
    const port = adapterPort(balancer)
    let attempts = 0
    await balancer
      .call(async (_endpoint, attempt) => {
        attempts++
        port.control(attempt)!.handOver()
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      })
      .catch(() => {})
    expect(attempts).toBe(1)
  })
})
