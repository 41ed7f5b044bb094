import type { AttemptImpl, CallPort, TimerEntry } from '../core/ports.ts'
import { HedgeLostError, NoEndpointAvailableError } from '../model/errors.ts'
import type { DrivenCall } from './driven-call.ts'
import type { ResolvedHedge } from './hedge-options.ts'

/** The quantile behind `delay: 'p95'`. */
const P95 = 0.95

/**
 * The hedge delay of a round: a fixed number of ms, or the balancer's recent p95 attempt latency
 * ("The Tail at Scale"; Finagle's `BackupRequestFilter` and tower hedge at a percentile). Until the
 * window holds enough samples there is no p95, and the round does not hedge.
 */
export function hedgeDelay(core: CallPort, hedge: ResolvedHedge, now: number): number | undefined {
  if (hedge.delay !== 'p95') return hedge.delay
  return core.latencyQuantile(now, P95)
}

/** An attempt that answers the call: the first one wins the hedge race. */
function answers(attempt: AttemptImpl): boolean {
  return attempt.verdict === 'success' || attempt.verdict === 'caller-error'
}

/**
 * One round of a hedged call: start an attempt; each time `delay` passes with fewer than
 * `maxAttempts` in flight, and the retry budget allows it, start another on an endpoint not yet
 * tried. The first attempt that answers (success or caller error) wins and the others are
 * cancelled with `HedgeLostError` (verdict `cancelled`: no effect on their endpoints; their values
 * are discarded). A round whose attempts all fail returns the last failure to the retry loop, so
 * hedging and retries compose: a failed hedge can still be retried within `retries`.
 */
export async function hedgedRound(call: DrivenCall, hedge: ResolvedHedge): Promise<AttemptImpl> {
  const core = call.core
  const running: AttemptImpl[] = []
  let wake: (() => void) | undefined
  let hedgeDue = false
  let timer: TimerEntry | undefined
  // Set when an attempt ends while the round is not waiting (a driven attempt may end inside
  // `call.run`): the round looks again before it waits.
  let missed = false
  const notify = () => {
    const w = wake
    wake = undefined
    if (w === undefined) missed = true
    else w()
  }
  const delay = hedgeDelay(core, hedge, core.clock.now())
  const arm = () => {
    if (delay === undefined || running.length >= hedge.maxAttempts || call.settled) return
    // A hedge delay runs beside an attempt in flight, whose I/O keeps the process alive.
    timer = core.timers.schedule(core.clock.now() + delay, () => {
      timer = undefined
      hedgeDue = true
      notify()
    })
  }
  const start = (attempt: AttemptImpl) => {
    attempt.onEnd = notify
    running.push(attempt)
    call.run(attempt)
  }

  start(call.launch())
  arm()
  let last = running[0]!
  try {
    for (;;) {
      for (let i = 0; i < running.length; ) {
        const attempt = running[i]!
        if (!attempt.ended) {
          i++
          continue
        }
        running.splice(i, 1)
        if (answers(attempt) || call.settled) {
          for (const loser of running) {
            core.cancelAttempt(loser, new HedgeLostError())
            call.note(loser)
          }
          running.length = 0
          return attempt
        }
        if (running.length === 0) return attempt
        // A failed attempt while others still run: they may yet answer.
        last = attempt
        call.note(attempt)
      }
      if (call.settled) return last
      if (hedgeDue) {
        hedgeDue = false
        const now = core.clock.now()
        const budget = core.budget
        if (budget !== undefined && !budget.tryWithdraw(now)) {
          const { calls, retries } = budget.counts(now)
          core.emit('budgetExhausted', { retries, requests: calls })
        } else {
          try {
            const from = running[0]!
            // Strictly an endpoint this call has not tried: a hedge to the same one helps nothing.
            const attempt = call.launch(true)
            core.emit('hedge', {
              from: from.state.endpoint,
              attempt: attempt.number,
              delay: delay ?? 0,
              callId: call.callId,
              reason: `no answer from ${from.state.id} after ${delay ?? 0} ms`,
            })
            start(attempt)
            arm()
          } catch (error) {
            // No other endpoint can take a hedge: keep waiting for the attempts running, and give
            // the budget back (a hedge that never left spent nothing).
            budget?.refund(now)
            if (!(error instanceof NoEndpointAvailableError)) throw error
          }
        }
      }
      if (missed) missed = false
      else
        await new Promise<void>((resolve) => {
          wake = resolve
        })
    }
  } finally {
    if (timer !== undefined) core.timers.cancel(timer)
  }
}
