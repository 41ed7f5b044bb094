import { debuglog } from 'node:util'
import type { EventEmitter } from 'eventemitter3'
import { describeError } from '../model/describe-error.ts'
import type { BalancerEvents } from '../model/events.ts'

/**
 * `NODE_DEBUG=keel`: Node's `util.debuglog` section for keel. Read once per balancer: without it
 * keel attaches no listener and formats nothing.
 */
let log: ReturnType<typeof debuglog> | undefined
let enabled: boolean | undefined
let balancers = 0

/** Whether `NODE_DEBUG` names keel (read on first use, like `util.debuglog` itself). */
export function debugEnabled(): boolean {
  if (enabled === undefined) {
    log = debuglog('keel')
    enabled = log.enabled
  }
  return enabled
}

/**
 * Prints, one line each, what a balancer does that an operator wants to see: ejections,
 * restorations, breaker and health changes, retries and hedges with their reasons, retry budget
 * refusals, panics, membership and discovery changes, warnings. Lines start with `balancer#N`,
 * N counting the balancers made in the process.
 */
export function attachDebugLog(balancer: EventEmitter<BalancerEvents>): void {
  if (!debugEnabled()) return
  const out = log!
  const id = `balancer#${++balancers}`
  balancer.on('ejected', ({ endpoint, detector, reason, until }) => {
    const time = until === undefined ? '' : ` (until clock ${Math.round(until)} ms)`
    out('%s ejected %s by %s: %s%s', id, endpoint.id, detector, reason, time)
  })
  balancer.on('restored', ({ endpoint, detector, reason }) =>
    out('%s restored %s by %s: %s', id, endpoint.id, detector, reason),
  )
  balancer.on('breakerHalfOpen', ({ endpoint }) => out('%s breaker half-open %s: one trial may go', id, endpoint.id))
  balancer.on('unhealthy', ({ endpoint, check }) => out('%s unhealthy %s (%s check)', id, endpoint.id, check))
  balancer.on('healthy', ({ endpoint, check }) => out('%s healthy %s (%s check)', id, endpoint.id, check))
  balancer.on('retry', (event) =>
    out(
      '%s retry call %d attempt %d in %d ms: %s',
      id,
      event.callId,
      event.attempt,
      Math.round(event.delay),
      event.reason,
    ),
  )
  balancer.on('hedge', (event) => out('%s hedge call %d attempt %d: %s', id, event.callId, event.attempt, event.reason))
  balancer.on('budgetExhausted', ({ retries, requests }) =>
    out('%s retry budget exhausted: %d retries for %d calls in its window', id, retries, requests),
  )
  balancer.on('panic', ({ active, eligible, total, priority }) =>
    out(
      '%s priority %d %s panic: %d of %d endpoints eligible',
      id,
      priority,
      active ? 'entered' : 'left',
      eligible,
      total,
    ),
  )
  balancer.on('endpointAdded', ({ endpoint }) => out('%s added %s', id, endpoint.id))
  balancer.on('endpointRemoved', ({ endpoint }) => out('%s removed %s (draining)', id, endpoint.id))
  balancer.on('discoveryError', ({ error }) => out('%s discovery error: %s', id, describeError(error)))
  balancer.on('warning', ({ code, message }) => out('%s warning %s: %s', id, code, message))
}
