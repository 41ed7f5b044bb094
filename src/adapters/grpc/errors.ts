import { Metadata, type ServiceError, type StatusObject, status } from '@grpc/grpc-js'
import type { AttemptControl } from '../../core/ports.ts'
import { isKeelError } from '../../model/errors.ts'
import type { Verdict } from '../../model/verdict.ts'
import type { EndpointChannel } from './channel.ts'

/** Response headers of the attempt that produced an error, so the call can emit `metadata`. */
export const HEADERS = Symbol('keel.grpc.headers')
type Marked = ServiceError & { [HEADERS]?: Metadata }

/** A grpc-js `ServiceError`: numeric `code`, `details` and `metadata` (grpc-js `callErrorFromStatus`). */
export function isServiceError(error: unknown): error is ServiceError {
  if (typeof error !== 'object' || error === null) return false
  const e = error as Partial<ServiceError>
  return typeof e.code === 'number' && typeof e.details === 'string' && typeof e.metadata === 'object'
}

/** An error shaped as grpc-js makes them (`"14 UNAVAILABLE: details"`), keeping keel's error as `cause`. */
export function serviceError(code: number, details: string, metadata = new Metadata(), cause?: unknown): ServiceError {
  const message = `${code} ${status[code] ?? 'UNKNOWN'}: ${details}`
  const error = new Error(message, cause === undefined ? undefined : { cause })
  return Object.assign(error, { code, details, metadata }) as ServiceError
}

export function cancelledOnClient(): ServiceError {
  return serviceError(status.CANCELLED, 'Cancelled on client')
}

/**
 * The error of an attempt that starts after the caller cancelled: it ends at once, and keel learns
 * its verdict (`cancelled`) through the attempt's control.
 */
export function cancelledAttempt(control: AttemptControl | undefined): ServiceError {
  control?.knownVerdict('cancelled')
  return cancelledOnClient()
}

/**
 * Rethrows what a caller's callback or listener threw outside keel's promise chain, so it is an
 * uncaught exception, as it is with grpc-js, rather than an unhandled rejection.
 */
export function rethrow(error: unknown): void {
  process.nextTick(() => {
    throw error
  })
}

/** Runs `fn`, rethrowing what it throws outside keel's promise chain (see `rethrow`). */
export function deliver(fn: () => void): void {
  try {
    fn()
  } catch (error) {
    rethrow(error)
  }
}

/** The error a failed status carries (grpc-js emits the same one as `error`). */
export function errorFromStatus(s: StatusObject): ServiceError {
  return serviceError(s.code, s.details, s.metadata)
}

export function statusOf(error: unknown): StatusObject | undefined {
  if (!isServiceError(error)) return undefined
  return { code: error.code, details: error.details, metadata: error.metadata }
}

export function setHeaders(error: ServiceError, headers: Metadata | undefined): void {
  if (headers !== undefined) Object.defineProperty(error, HEADERS, { value: headers, configurable: true })
}

export function headersOf(error: unknown): Metadata | undefined {
  return typeof error === 'object' && error !== null ? (error as Marked)[HEADERS] : undefined
}

/** What an attempt knew about its channel when it started. */
export interface ChannelProbe {
  readonly channel: EndpointChannel
  readonly wasReady: boolean
  readonly epoch: number
}

/** Codes an attempt can end with without reaching a server: a failed pick, a deadline or a cancel while waiting. */
const UNSENT_CODES: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED])

/**
 * Proof that an attempt reached no server, from two facts grpc-js exposes (never from messages):
 *
 * 1. Connectivity: the channel was not READY when the attempt started and has not entered READY
 *    since (`readyEpoch` unchanged). Without a READY transport grpc-js never opens a stream.
 * 2. The call's peer: grpc-js reports the channel's target instead of a peer address when the
 *    call's last try never got a transport (its load-balancing pick failed). grpc-js re-tries a
 *    try only when the server provably did not process it (gRFC A6 transparent retry: the stream
 *    was refused or never started — what a server's GOAWAY does to streams in flight towards it),
 *    and keel turns grpc-js's own retry policies off, so a call whose last try had no transport
 *    was processed nowhere. This covers the race where a call starts on a READY connection just
 *    as the server begins a graceful shutdown.
 */
export function provenUnsent(probe: ChannelProbe, peer: string): boolean {
  const { channel, wasReady, epoch } = probe
  return (!wasReady && channel.readyEpoch === epoch) || peer === channel.target
}

/** What the adapter knows about a failed attempt besides its status. */
export interface AttemptFacts {
  readonly probe: ChannelProbe
  /** `getPeer()` of the attempt's grpc-js call once it ended. */
  readonly peer: string
  /** The caller cancelled the call. */
  readonly cancelled: boolean
  /** The call's overall deadline has passed. */
  readonly deadlinePassed: boolean
}

/**
 * What the adapter knows about a failed attempt beyond its status (docs/classification.md), for
 * `AttemptControl.knownVerdict`; undefined leaves keel's rules to classify the status:
 * - `cancelled` when the caller cancelled it, or when grpc-js ended it with DEADLINE_EXCEEDED at
 *   the call's overall deadline: that is keel's deadline enforced by grpc-js (it may fire a
 *   moment before keel's own timer), and keel's deadline releases the attempt without counting
 *   against the endpoint. An attempt timeout, or a DEADLINE_EXCEEDED the server sends earlier,
 *   keeps keel's rule (`endpoint-failure`);
 * - `not-sent` when `provenUnsent`;
 * - `endpoint-failure` for a CANCELLED nobody asked for: keel ends the attempts it cancels itself
 *   before they settle, so such a status is the server or the connection resetting the stream
 *   (`RST_STREAM CANCEL` from a server shutting down), the endpoint's failure.
 * Other codes keep keel's rules (`classify.ts`).
 */
export function attemptVerdict(error: ServiceError, facts: AttemptFacts): Verdict | undefined {
  if (facts.cancelled || (error.code === status.DEADLINE_EXCEEDED && facts.deadlinePassed)) return 'cancelled'
  if (UNSENT_CODES.has(error.code) && provenUnsent(facts.probe, facts.peer)) return 'not-sent'
  if (error.code === status.CANCELLED) return 'endpoint-failure'
  return undefined
}

/** Tells keel what the adapter knows about a failed attempt (`attemptVerdict`). */
export function classifyAttemptError(
  control: AttemptControl | undefined,
  error: ServiceError,
  facts: AttemptFacts,
): void {
  const verdict = attemptVerdict(error, facts)
  if (verdict !== undefined) control?.knownVerdict(verdict)
}

/**
 * What a call hands its caller (docs/grpc.md; adapters never wrap): the last attempt's error with
 * `RetriesExhaustedError` unwrapped; keel's own errors (deadline, no endpoint, closed) as the
 * `ServiceError` grpc-js would give in their place, keel's error as `cause`; anything else as is.
 */
export function surfaceError(error: unknown): unknown {
  let e = error
  if (isKeelError(e) && e.code === 'KEEL_RETRIES_EXHAUSTED') e = e.cause
  if (isServiceError(e) || !isKeelError(e)) return e
  switch (e.code) {
    case 'KEEL_DEADLINE_EXCEEDED':
    case 'KEEL_ATTEMPT_TIMEOUT':
      return serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded', new Metadata(), e)
    case 'KEEL_HEDGE_LOST':
      return serviceError(status.CANCELLED, e.message, new Metadata(), e)
    default:
      // No endpoint, balancer closed, endpoint removed: no server could take the call.
      return serviceError(status.UNAVAILABLE, e.message, new Metadata(), e)
  }
}

/** The status a call is ended with when keel gives up on its attempt (`attempt.signal` aborted). */
export function abortStatus(reason: unknown): { code: number; details: string } {
  if (isKeelError(reason) && (reason.code === 'KEEL_DEADLINE_EXCEEDED' || reason.code === 'KEEL_ATTEMPT_TIMEOUT')) {
    return { code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }
  }
  return { code: status.CANCELLED, details: reason instanceof Error ? reason.message : 'Cancelled by keel' }
}
