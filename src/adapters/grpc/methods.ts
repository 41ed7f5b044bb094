import type { MethodDefinition } from '@grpc/grpc-js'
import { rangeError, typeError } from '../../internal/validate.ts'

export type MethodKind = 'unary' | 'serverStream' | 'clientStream' | 'bidi'

/** One method of a service, as the adapter calls it. */
export interface GrpcMethod {
  /** The key in the service definition (proto-loader: the proto name, e.g. `SayHello`). */
  readonly name: string
  /** proto-loader's camel-case alias (`sayHello`), when there is one. */
  readonly originalName: string | undefined
  /** `/package.Service/Method`. */
  readonly path: string
  readonly kind: MethodKind
  readonly idempotent: boolean
  readonly serialize: (value: unknown) => Buffer
  readonly deserialize: (bytes: Buffer) => unknown
  /** The definition's own attributes, copied onto the client's method as grpc-js does. */
  readonly definition: MethodDefinition<unknown, unknown>
}

export interface GrpcService {
  /** `package.Service`, from the methods' paths. */
  readonly name: string
  readonly methods: readonly GrpcMethod[]
}

/** Keys grpc-js refuses as method names (prototype pollution). */
const RESERVED = new Set(['__proto__', 'prototype', 'constructor'])

/**
 * `idempotency_level` (google/protobuf/descriptor.proto `MethodOptions`): NO_SIDE_EFFECTS (1) and
 * IDEMPOTENT (2) make a method safe to run more than once. proto-loader gives the enum's name.
 */
function idempotentByProto(definition: MethodDefinition<unknown, unknown>): boolean {
  const level = (definition as { options?: { idempotency_level?: unknown } }).options?.idempotency_level
  return level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS' || level === 1 || level === 2
}

function kindOf(definition: MethodDefinition<unknown, unknown>): MethodKind {
  if (definition.requestStream) return definition.responseStream ? 'bidi' : 'clientStream'
  return definition.responseStream ? 'serverStream' : 'unary'
}

/**
 * Reads a grpc-js service definition (`ServiceClient.service`). A method is idempotent when its
 * proto `idempotency_level` says so or `idempotentMethods` names it (by its name, its camel-case
 * alias or its full path); a name that matches no method is an error, so a typo cannot silently
 * turn retries off.
 */
export function readService(service: unknown, idempotentMethods: readonly string[] | undefined): GrpcService {
  if (typeof service !== 'object' || service === null) {
    throw typeError('ServiceClient.service', 'a grpc-js service definition', service)
  }
  const listed = new Set(idempotentMethods ?? [])
  const matched = new Set<string>()
  const methods: GrpcMethod[] = []
  let serviceName: string | undefined
  for (const [name, value] of Object.entries(service as Record<string, unknown>)) {
    const definition = value as MethodDefinition<unknown, unknown>
    if (RESERVED.has(name)) continue
    if (
      typeof definition !== 'object' ||
      definition === null ||
      typeof definition.path !== 'string' ||
      typeof definition.requestSerialize !== 'function' ||
      typeof definition.responseDeserialize !== 'function'
    ) {
      throw typeError(`ServiceClient.service.${name}`, 'a grpc-js method definition', definition)
    }
    const path = definition.path
    serviceName ??= path.slice(1, path.lastIndexOf('/'))
    const originalName =
      typeof definition.originalName === 'string' && !RESERVED.has(definition.originalName)
        ? definition.originalName
        : undefined
    let idempotent = idempotentByProto(definition)
    for (const alias of [name, originalName, path]) {
      if (alias !== undefined && listed.has(alias)) {
        idempotent = true
        matched.add(alias)
      }
    }
    methods.push({
      name,
      originalName,
      path,
      kind: kindOf(definition),
      idempotent,
      serialize: definition.requestSerialize as (value: unknown) => Buffer,
      deserialize: definition.responseDeserialize as (bytes: Buffer) => unknown,
      definition,
    })
  }
  if (methods.length === 0 || serviceName === undefined) {
    throw typeError('ServiceClient.service', 'a service definition with at least one method', service)
  }
  for (const name of listed) {
    if (!matched.has(name)) {
      const known = methods.map((m) => m.name).join(', ')
      throw rangeError('idempotentMethods', `method names of ${serviceName} (${known})`, name)
    }
  }
  return { name: serviceName, methods }
}
