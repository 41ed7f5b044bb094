import { coreOf } from '../../src/core/port-access.ts'
import type { EndpointHealth } from '../../src/ejection/health/endpoint-health.ts'
import { Balancer, type HealthCheckOptions, seededRandom } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

/**
 * How the custom check answers for an endpoint:
 * pass/fail resolve true/false, `throw` rejects, `hang` waits for its signal and rejects with its
 * reason, `deaf` never settles (ignores its signal), a number resolves true after that many ms.
 */
export type Answer = 'pass' | 'fail' | 'throw' | 'hang' | 'deaf' | number

export interface CheckRun {
  readonly id: string
  readonly at: number
  readonly signal: AbortSignal
  settledAt: number | undefined
}

export interface Recorded {
  readonly event: string
  readonly id: string
  readonly at: number
  readonly detector?: string
  readonly reason?: string
  /** Eligibility of the endpoint when the event was emitted (state changes before events). */
  readonly eligible: boolean
}

export const A = 'http://10.0.0.1:80'
export const B = 'http://10.0.0.2:80'
export const C = 'http://10.0.0.3:80'
export const D = 'http://10.0.0.4:80'

export function harness(
  health: Omit<HealthCheckOptions, 'type' | 'check'> = {},
  endpoints: string[] = [A, B, C],
  seed = 7,
) {
  const clock = new ManualClock()
  const answers = new Map<string, Answer>()
  const runs: CheckRun[] = []
  const running = new Map<string, number>()
  let maxConcurrentPerEndpoint = 0
  const check = (endpoint: { id: string }, signal: AbortSignal): Promise<boolean> => {
    const run: CheckRun = { id: endpoint.id, at: clock.now(), signal, settledAt: undefined }
    runs.push(run)
    const n = (running.get(run.id) ?? 0) + 1
    running.set(run.id, n)
    maxConcurrentPerEndpoint = Math.max(maxConcurrentPerEndpoint, n)
    const answer = answers.get(run.id) ?? 'pass'
    const outcome = new Promise<boolean>((resolve, reject) => {
      if (answer === 'pass') resolve(true)
      else if (answer === 'fail') resolve(false)
      else if (answer === 'throw') reject(new Error('boom'))
      else if (answer === 'hang') signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      else if (typeof answer === 'number') clock.setTimeout(() => resolve(true), answer)
    })
    return outcome.finally(() => {
      run.settledAt = clock.now()
      running.set(run.id, running.get(run.id)! - 1)
    })
  }
  const balancer = new Balancer({
    endpoints,
    clock,
    random: seededRandom(seed),
    picker: 'round-robin',
    breaker: false,
    outlierDetection: false,
    retry: false,
    healthCheck: { type: 'custom', check, ...health },
  })
  const core = coreOf(balancer)
  const stateOf = (id: string) => {
    const state = core.set.find(id)
    if (state === undefined) throw new Error(`no endpoint ${id}`)
    return state
  }
  const events: Recorded[] = []
  for (const event of ['ejected', 'restored', 'healthy', 'unhealthy'] as const) {
    balancer.on(event, (payload: { endpoint: { id: string }; detector?: string; reason?: string }) => {
      events.push({
        event,
        id: payload.endpoint.id,
        at: clock.now(),
        ...(payload.detector === undefined ? {} : { detector: payload.detector }),
        ...(payload.reason === undefined ? {} : { reason: payload.reason }),
        eligible: stateOf(payload.endpoint.id).eligible,
      })
    })
  }
  return {
    balancer,
    core,
    clock,
    answers,
    runs,
    events,
    get maxConcurrentPerEndpoint() {
      return maxConcurrentPerEndpoint
    },
    stateOf,
    healthOf: (id: string) => stateOf(id).health as EndpointHealth,
    eligible: (id: string) => stateOf(id).eligible,
    runsOf: (id: string) => runs.filter((r) => r.id === id),
    eventsOf: (id: string, event?: string) =>
      events.filter((e) => e.id === id && (event === undefined || e.event === event)),
    /** Advances the clock to the next scheduled check of `id` (which fires, with any other due). */
    async nextCheck(id: string): Promise<CheckRun> {
      const next = (stateOf(id).health as EndpointHealth).next
      if (next === undefined) throw new Error(`no check scheduled for ${id}`)
      const before = runs.filter((r) => r.id === id).length
      await clock.advance(next.at - clock.now())
      const mine = runs.filter((r) => r.id === id)
      if (mine.length !== before + 1) throw new Error(`expected one new check of ${id}, got ${mine.length - before}`)
      return mine[mine.length - 1]!
    },
    /** Ids of the endpoints `n` calls went to. */
    async traffic(n: number): Promise<string[]> {
      const ids: string[] = []
      for (let i = 0; i < n; i++) ids.push(await balancer.call(async (endpoint) => endpoint.id))
      return ids
    },
  }
}
