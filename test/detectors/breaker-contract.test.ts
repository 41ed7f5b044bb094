import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { EndpointState } from '../../src/core/endpoint-state.ts'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const require = createRequire(import.meta.url)
const CircuitBreaker = require('opossum') as typeof import('opossum').default

const options = {
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 10_000,
}
const BUCKET = options.rollingCountTimeout / options.rollingCountBuckets

type Op = 'success' | 'failure' | 'tick'

/**
 * The reference: opossum driven the documented way, `fire()`, with keel's lifecycle around it
 * (a closed breaker is replaced by a fresh one, since opossum never resets its stats) and keel's
 * admission (no call while open; one trial while half-open). opossum's own reset timer runs on
 * vitest's fake timers.
 */
class Reference {
  readonly rotate = new EventEmitter().setMaxListeners(0)
  breaker = this.#make()
  closes = 0

  #make() {
    const breaker = new CircuitBreaker(
      async (ok: unknown) => (ok === true ? 'ok' : Promise.reject(new Error('fail'))),
      {
        ...options,
        timeout: false,
        enableSnapshots: false,
        rollingPercentilesEnabled: false,
        rotateBucketController: this.rotate,
      },
    )
    breaker.on('close', () => {
      this.closes++
      this.breaker.shutdown()
      this.breaker = this.#make()
    })
    return breaker
  }

  get phase(): 'closed' | 'open' | 'half-open' {
    return this.breaker.halfOpen ? 'half-open' : this.breaker.opened ? 'open' : 'closed'
  }

  async call(ok: boolean): Promise<void> {
    await this.breaker.fire(ok).catch(() => {})
  }
}

describe('breaker contract: keel drives opossum like fire() does', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reaches the same state after every step of random outcome sequences', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Op>('success', 'failure', 'failure', 'tick'), { minLength: 30, maxLength: 250 }),
        async (ops) => {
          const clock = new ManualClock(0)
          const balancer = new Balancer({
            endpoints: ['http://10.0.0.1:80'],
            clock,
            breaker: options,
            outlierDetection: false,
          })
          const core = coreOf(balancer)
          const state = core.set.members.get('http://10.0.0.1:80') as EndpointState
          const reference = new Reference()
          let keelCloses = 0
          balancer.on('breakerClose', () => keelCloses++)
          for (const op of ops) {
            if (op === 'tick') {
              // One bucket of time passes on both: keel's rotate timer and opossum's reset timer.
              await clock.advance(BUCKET)
              vi.advanceTimersByTime(BUCKET)
              reference.rotate.emit('rotate')
            } else if (reference.phase !== 'open') {
              const trial = reference.phase === 'half-open'
              if (trial) state.trialInFlight = true
              await reference.call(op === 'success')
              core.breakers!.record(state, op === 'success' ? 'success' : 'endpoint-failure', 1, trial, clock.now())
            }
            expect(state.breakerPhase).toBe(reference.phase)
            expect(keelCloses).toBe(reference.closes)
          }
          await balancer.close()
          reference.breaker.shutdown()
        },
      ),
      { numRuns: 150, seed: 11 },
    )
  })
})
