// The message each of keel's diagnostics channels publishes (diagnostics/channels.ts).

import type { CallOutcome } from '../model/call-outcome.ts'
import type { DetectorName } from '../model/detector.ts'
import type { Endpoint } from '../model/endpoint.ts'
import type { EndpointStateName } from '../model/endpoint-state-name.ts'
import type { Verdict } from '../model/verdict.ts'

/** `keel:call:start`: a call starts, before its first pick. */
export interface CallStartMessage {
  /** The `Balancer`. */
  readonly balancer: object
  /** Unique in the process; the same on the call's attempts and events. */
  readonly callId: number
}

/** `keel:call:end`: a call settled. */
export interface CallEndMessage {
  readonly balancer: object
  readonly callId: number
  readonly outcome: CallOutcome
  /** Attempts it started. */
  readonly attempts: number
  readonly durationMs: number
  /** What it rejected with (absent on success). */
  readonly error?: unknown
}

/** `keel:attempt:start`: an attempt starts on a picked endpoint, before `fn` runs. */
export interface AttemptStartMessage {
  readonly balancer: object
  readonly callId: number
  /** Its number in the call (1 for the first). */
  readonly attempt: number
  readonly endpoint: Endpoint<unknown>
  /** Started as a hedge beside a running attempt. */
  readonly hedge: boolean
}

/** `keel:attempt:end`: an attempt ended (exactly once), once its call decided what follows. */
export interface AttemptEndMessage extends AttemptStartMessage {
  readonly verdict: Verdict
  readonly durationMs: number
  /** Whether the call retried after it. */
  readonly retried: boolean
  /** What it threw or was cancelled with (absent when it returned). */
  readonly error?: unknown
}

/** `keel:endpoint:state`: an endpoint joined, left, was ejected or restored, or its breaker or health changed. */
export interface EndpointStateMessage {
  readonly balancer: object
  readonly endpoint: Endpoint<unknown>
  /** The event that caused it: `endpointAdded`, `ejected`, `breakerOpen`, `unhealthy`… */
  readonly change: string
  /** The endpoint's snapshot state after it. */
  readonly state: EndpointStateName
  readonly detector?: DetectorName
  readonly reason?: string
}
