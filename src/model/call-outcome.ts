import type { Verdict } from './verdict.ts'

/**
 * How a call ended: the verdict of the attempt it settled with, `deadline` when its `timeout`
 * passed, or `no-endpoint` when no endpoint could take its first attempt. `cancelled` is the
 * caller's abort or the balancer's close.
 */
export type CallOutcome = Verdict | 'deadline' | 'no-endpoint'
