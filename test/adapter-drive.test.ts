// AdapterPort.drive: an adapter's call run with callbacks (AttemptControl.succeed / fail) follows
// balancer.call's rules — the simple path, retries, attempt timeouts, close, discovery's gate.
import { describe, expect, it } from 'vitest'
import { adapterPort } from '../src/core/port-access.ts'
import type { AdapterCall, AttemptControl } from '../src/core/ports.ts'
import {
  type AttemptEvent,
  AttemptTimeoutError,
  Balancer,
  BalancerClosedError,
  type Discovery,
  type DiscoveryUpdate,
} from '../src/index.ts'
import type { Attempt } from '../src/model/attempt.ts'
import type { Endpoint } from '../src/model/endpoint.ts'
import { flush, ManualClock } from './helpers/clock.ts'

const A = 'http://10.0.0.1:80'
const B = 'http://10.0.0.2:80'

/** A driven call whose attempts run `behave`; records how the call settled. */
function driven(balancer: Balancer<unknown>, behave: (endpoint: Endpoint<unknown>, control: AttemptControl) => void) {
  const port = adapterPort(balancer)
  const outcome: { status: 'pending' | 'resolved' | 'rejected'; value?: unknown; error?: unknown } = {
    status: 'pending',
  }
  const endpoints: string[] = []
  const call: AdapterCall = {
    attempt(endpoint: Endpoint<unknown>, attempt: Attempt) {
      endpoints.push(endpoint.id)
      behave(endpoint, port.control(attempt)!)
    },
    resolved(value) {
      expect(outcome.status).toBe('pending')
      outcome.status = 'resolved'
      outcome.value = value
    },
    rejected(error) {
      expect(outcome.status).toBe('pending')
      outcome.status = 'rejected'
      outcome.error = error
    },
  }
  return { port, call, outcome, endpoints }
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })

describe('AdapterPort.drive', () => {
  it('resolves with the value an attempt reports, once its attempt ended', async () => {
    const balancer = new Balancer({ endpoints: [A], clock: new ManualClock() })
    const events: AttemptEvent<unknown>[] = []
    balancer.on('attempt', (event) => events.push(event))
    let later: AttemptControl | undefined
    const { port, call, outcome } = driven(balancer, (_endpoint, control) => {
      later = control
    })
    port.drive(call, port.resolveCall({}))
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    later!.succeed('value')
    later!.succeed('twice')
    later!.fail(new Error('late'))
    expect(outcome).toEqual({ status: 'resolved', value: 'value' })
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
    expect(events.map((e) => [e.verdict, e.attempt, e.retried])).toEqual([['success', 1, false]])
    await balancer.close()
  })

  it('retries a failed attempt on another endpoint, like balancer.call', async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: [A, B], picker: 'round-robin', clock })
    const { port, call, outcome, endpoints } = driven(balancer, (endpoint, control) => {
      if (endpoint.id === endpoints[0]) control.fail(refused())
      else queueMicrotask(() => control.succeed(endpoint.id))
    })
    port.drive(call, port.resolveCall({ idempotent: true }))
    // The retry waits its backoff on keel's clock.
    await clock.advance(1_000)
    await flush()
    expect(endpoints).toHaveLength(2)
    expect(new Set(endpoints).size).toBe(2)
    expect(outcome).toEqual({ status: 'resolved', value: endpoints[1] })
    await balancer.close()
  })

  it('rejects with the last error when no retry is left, never before drive returned', async () => {
    const balancer = new Balancer({ endpoints: [A], clock: new ManualClock(), retry: false })
    const error = new Error('boom')
    const { port, call, outcome } = driven(balancer, (_endpoint, control) => control.fail(error))
    port.drive(call, port.resolveCall({}))
    expect(outcome.status).toBe('pending')
    await flush()
    expect(outcome).toEqual({ status: 'rejected', error })
    await balancer.close()
  })

  it("cancels an attempt at its attempt timeout through its canceller, and fails with keel's reason", async () => {
    const clock = new ManualClock()
    const balancer = new Balancer({ endpoints: [A], clock, retry: false })
    const reasons: unknown[] = []
    const { port, call, outcome } = driven(balancer, (_endpoint, control) => {
      control.canceller = {
        attemptCancelled: (reason) => {
          reasons.push(reason)
          control.fail(reason)
        },
      }
    })
    port.drive(call, port.resolveCall({ attemptTimeout: 50 }))
    await clock.advance(49)
    expect(outcome.status).toBe('pending')
    await clock.advance(1)
    await flush()
    expect(reasons).toHaveLength(1)
    expect(outcome.status).toBe('rejected')
    expect(outcome.error).toBeInstanceOf(AttemptTimeoutError)
    await balancer.close()
  })

  it('rejects with BalancerClosedError once the balancer closed', async () => {
    const balancer = new Balancer({ endpoints: [A], clock: new ManualClock() })
    const { port, call, outcome, endpoints } = driven(balancer, (_endpoint, control) => control.succeed(1))
    const options = port.resolveCall({})
    await balancer.close()
    port.drive(call, options)
    expect(outcome.status).toBe('pending')
    await flush()
    expect(outcome.status).toBe('rejected')
    expect(outcome.error).toBeInstanceOf(BalancerClosedError)
    expect(endpoints).toEqual([])
  })

  it("waits for discovery's first answer, then runs", async () => {
    const clock = new ManualClock()
    let listener: ((update: DiscoveryUpdate) => void) | undefined
    const source: Discovery = {
      watch(l) {
        listener = l
        return () => {}
      },
    }
    const balancer = new Balancer({ discovery: source, clock })
    const { port, call, outcome, endpoints } = driven(balancer, (endpoint, control) => control.succeed(endpoint.id))
    port.drive(call, port.resolveCall({}))
    await clock.advance(1_000)
    expect([outcome.status, endpoints]).toEqual(['pending', []])
    listener!({ endpoints: [A] })
    await clock.advance(0)
    await flush()
    expect(outcome).toEqual({ status: 'resolved', value: A })
    await balancer.close()
  })

  it('resolveCall validates like balancer.call', () => {
    const balancer = new Balancer({ endpoints: [A] })
    expect(() => adapterPort(balancer).resolveCall({ timeout: -1 })).toThrow(/timeout/)
    void balancer.close()
  })
})
