import { Metadata } from '@grpc/grpc-js'
import type { AdapterPort, HealthCheck } from '../../core/ports.ts'
import { abortReason } from '../../internal/abort.ts'
import { KeelError } from '../../model/errors.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import type { EndpointChannel } from './channel.ts'

/*
 * grpc.health.v1 (grpc/src/proto/grpc/health/v1/health.proto), the two messages `Check` uses:
 *
 *   message HealthCheckRequest { string service = 1; }
 *   message HealthCheckResponse {
 *     enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 *     ServingStatus status = 1;
 *   }
 *
 * Encoded by hand (protobuf wire format): keel ships no .proto file to find at run time and needs
 * neither proto-loader nor protobufjs for its checks.
 */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'

export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const
const SERVING = 1

function writeVarint(bytes: number[], value: number): void {
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80)
    value >>>= 7
  }
  bytes.push(value)
}

/** `HealthCheckRequest { service }`; the empty service (the whole server) is the empty message. */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0)
  const text = Buffer.from(service, 'utf8')
  const head: number[] = [0x0a] // field 1, wire type 2 (length-delimited)
  writeVarint(head, text.length)
  return Buffer.concat([Buffer.from(head), text])
}

/** Reads a varint at `offset`; returns [value (low 32 bits), next offset]. */
function readVarint(bytes: Buffer, offset: number): [number, number] {
  let value = 0
  for (let shift = 0, i = offset; i < bytes.length && shift < 70; shift += 7, i++) {
    const byte = bytes[i]!
    if (shift < 32) value |= (byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [value >>> 0, i + 1]
  }
  throw new RangeError('grpc.health.v1.HealthCheckResponse: truncated varint')
}

/** `HealthCheckResponse.status` (0 when absent, as proto3 defaults); unknown fields are skipped. */
export function decodeHealthCheckResponse(bytes: Buffer): number {
  let status = 0
  let offset = 0
  while (offset < bytes.length) {
    const [tag, next] = readVarint(bytes, offset)
    offset = next
    const field = tag >>> 3
    const wireType = tag & 7
    if (wireType === 0) {
      const [value, after] = readVarint(bytes, offset)
      if (field === 1) status = value
      offset = after
    } else if (wireType === 1) offset += 8
    else if (wireType === 5) offset += 4
    else if (wireType === 2) {
      const [length, after] = readVarint(bytes, offset)
      offset = after + length
    } else throw new RangeError(`grpc.health.v1.HealthCheckResponse: unsupported wire type ${wireType}`)
  }
  if (offset > bytes.length) throw new RangeError('grpc.health.v1.HealthCheckResponse: truncated message')
  return status
}

/** The server answered, but not SERVING. */
export class HealthStatusError extends KeelError {
  readonly status: number

  constructor(status: number) {
    super('KEEL_HEALTH_CHECK_STATUS', `status ${SERVING_STATUS[status] ?? status}, expected SERVING`)
    this.status = status
  }
}

/**
 * The `grpc` check (docs/health-checks.md): `grpc.health.v1.Health/Check` for `healthCheck.service` on the
 * endpoint's own client, so the check shares the connection calls use (gRFC A17: a check of
 * another connection says little about this one). Passes on SERVING only; NOT_SERVING,
 * SERVICE_UNKNOWN, UNKNOWN or any error (UNIMPLEMENTED included: checks were asked for, so a
 * server without the health service is reported, where A17 would quietly pass it) fails it.
 */
export function grpcHealthCheck(core: AdapterPort, channels: ResourceHandle<EndpointChannel>): HealthCheck {
  return (endpoint, signal) =>
    new Promise<boolean>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal))
        return
      }
      const options = core.settings.healthCheck
      const service = options === false ? '' : options.service
      const timeout = options === false ? 1_000 : options.timeout
      let record: EndpointChannel
      try {
        record = channels.get(endpoint)
      } catch (error) {
        reject(error)
        return
      }
      const onAbort = () => call.cancel()
      const call = record.client.makeUnaryRequest(
        HEALTH_CHECK_PATH,
        encodeHealthCheckRequest,
        decodeHealthCheckResponse,
        service,
        new Metadata(),
        { deadline: core.clock.wallNow() + timeout },
        (error, status) => {
          signal.removeEventListener('abort', onAbort)
          if (signal.aborted) reject(abortReason(signal))
          else if (error !== null) reject(error)
          else if (status === SERVING) resolve(true)
          else reject(new HealthStatusError(status ?? 0))
        },
      )
      signal.addEventListener('abort', onAbort, { once: true })
    })
}
