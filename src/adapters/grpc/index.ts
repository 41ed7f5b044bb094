/**
 * Entry point `keel/grpc`: balanced grpc-js clients and the grpc.health.v1 check. The only module
 * of keel that imports @grpc/grpc-js (an optional peer dependency).
 *
 * @module keel/grpc
 */
import type {
  CallOptions,
  ChannelCredentials,
  Client,
  ClientOptions,
  Metadata,
  ServiceClientConstructor,
  ServiceError,
} from '@grpc/grpc-js'
import { Balancer } from '../../balancer.ts'
import { adapterPort, addOnPort } from '../../core/port-access.ts'
import type { AdapterPort } from '../../core/ports.ts'
import { checkNumber, isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { DEFAULT_IDLE_TIMEOUT } from '../http/timeouts.ts'
import type { GrpcContext } from './attempt.ts'
import { type GrpcCallOptions, NO_OPTIONS } from './call-options.ts'
import { channelResource, checkEndpoint, type GrpcServiceClientConstructor, isSecure } from './channel.ts'
import { grpcHealthCheck } from './health.ts'
import { type GrpcMethod, readService } from './methods.ts'
import { serverStreamMethod } from './server-stream.ts'
import { bidiMethod, clientStreamMethod } from './streams.ts'
import { TimeLimits } from './time-limits.ts'
import { unaryMethod } from './unary.ts'

export type { GrpcCallOptions, GrpcKeelCallOptions } from './call-options.ts'
export type { GrpcServiceClientConstructor } from './channel.ts'
export { decodeHealthCheckResponse, encodeHealthCheckRequest, HealthStatusError } from './health.ts'

/** Options of `createGrpcClient`. */
export interface GrpcClientOptions {
  /**
   * Methods safe to run more than once (retried after an endpoint failure), besides those whose
   * proto says `option idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS`. By name (`GetUser`),
   * camel-case alias (`getUser`) or path (`/users.v1.Users/GetUser`). @default []
   */
  readonly idempotentMethods?: readonly string[]
  /**
   * grpc-js client options for every endpoint's client: channel options (`grpc.keepalive_time_ms`,
   * `grpc.max_receive_message_length`, …) and `interceptors`. grpc-js retry and hedging policies
   * are refused: keel retries, within its budget. @default {}
   */
  readonly clientOptions?: ClientOptions
  /**
   * ms each attempt of a **unary** call may take when the call has no deadline and the balancer
   * no `timeout` or `attemptTimeout`: past it the attempt ends with DEADLINE_EXCEEDED (an
   * `endpoint-failure`, retried elsewhere when the method is idempotent), so a hung or blackholed
   * replica cannot hold a call forever (Envoy's route timeout is 15 s too). Streaming calls get no
   * default here (see `streamIdleTimeout`). 0 turns it off. keel enforces it on its own timer: the
   * server gets no `grpc-timeout` for it (a call's own deadline is still sent).
   * @default 15_000
   */
  readonly unaryTimeout?: number
  /**
   * ms a **streaming** call (server, client or bidi streaming) may go without a message either way
   * before it ends with DEADLINE_EXCEEDED (`Stream idle for <ms> ms`, an `endpoint-failure`): a
   * stream stuck on a hung or blackholed replica ends, a long one that keeps talking never does.
   * Envoy's `stream_idle_timeout` (5 min by default) does the same. Messages waiting for the caller
   * to read them do not count as idle. 0 turns it off; a call can set its own with
   * `{ keel: { streamIdleTimeout } }`.
   * @default 300_000
   */
  readonly streamIdleTimeout?: number
}

/**
 * A method of a client whose constructor carries no method types, as the constructors
 * `loadPackageDefinition` returns (typed `any` or `ServiceClientConstructor`): any of grpc-js's
 * call shapes, its arguments and result untyped, as grpc-js types them there.
 */
export interface UntypedGrpcMethod {
  // biome-ignore-start lint/suspicious/noExplicitAny: grpc-js's untyped clients take and give any messages
  /** A unary or client-streaming call with a callback: `method(request, (error, response) => …)`. */
  (request: any, callback: (error: ServiceError | null, response?: any) => void): any
  (request: any, metadata: Metadata, callback: (error: ServiceError | null, response?: any) => void): any
  (
    request: any,
    metadata: Metadata,
    options: CallOptions,
    callback: (error: ServiceError | null, response?: any) => void,
  ): any
  /** A server-streaming or bidi call: `method(request?, metadata?, options?)` returns the stream. */
  (request?: any, metadata?: Metadata, options?: CallOptions): any
  // biome-ignore-end lint/suspicious/noExplicitAny: grpc-js's untyped clients take and give any messages
}

/**
 * The balanced client: the service's methods (proto names and camel-case aliases) with grpc-js's
 * call shapes, without `grpc.Client`'s own members (`close`, `getChannel`, …: channels are per
 * endpoint and the balancer owns them). From a constructor with generated types
 * (`proto-loader-gen-types`), the methods keep their types; from an untyped one, every property
 * is an {@link UntypedGrpcMethod}, so `users.getUser(request, (error, user) => …)` compiles as
 * with a plain grpc-js client.
 */
export type GrpcClient<T> = Client extends T
  ? UntypedGrpcClient
  : string extends keyof T // grpc-js's `ServiceClient`: `Client & { [method: string]: Function }`
    ? UntypedGrpcClient
    : Omit<T, keyof Client>

/** The balanced client of an untyped constructor: every property is a method. */
export interface UntypedGrpcClient {
  readonly [method: string]: UntypedGrpcMethod
}

const OPTION_KEYS = ['idempotentMethods', 'clientOptions', 'unaryTimeout', 'streamIdleTimeout'] as const

/** Envoy's `stream_idle_timeout` default: 5 minutes. */
const DEFAULT_STREAM_IDLE_TIMEOUT = 300_000
/** Client options that would put one channel under every endpoint. */
const REFUSED_CLIENT_OPTIONS = ['channelOverride', 'channelFactoryOverride'] as const

/** Balancers whose `grpc` health check is installed (by the first client made on them). */
const healthInstalled = new WeakSet<AdapterPort>()

function checkClientOptions(value: unknown): ClientOptions {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw typeError('clientOptions', 'an object', value)
  for (const key of REFUSED_CLIENT_OPTIONS) {
    if (value[key] !== undefined) {
      throw typeError(`clientOptions.${key}`, 'undefined (keel makes one channel per endpoint)', value[key])
    }
  }
  const serviceConfig = value['grpc.service_config']
  if (typeof serviceConfig === 'string' && /"(retryPolicy|hedgingPolicy)"/.test(serviceConfig)) {
    throw typeError(
      'clientOptions["grpc.service_config"]',
      'a service config without retryPolicy or hedgingPolicy (keel retries, within its budget)',
      serviceConfig,
    )
  }
  return value as ClientOptions
}

function methodFor(context: GrpcContext, method: GrpcMethod): Function {
  switch (method.kind) {
    case 'unary':
      return unaryMethod(context, method)
    case 'serverStream':
      return serverStreamMethod(context, method)
    case 'clientStream':
      return clientStreamMethod(context, method)
    default:
      return bidiMethod(context, method)
  }
}

/**
 * A client of `ServiceClient`'s service whose every call is balanced by `balancer` (docs/grpc.md):
 * same method names and call shapes as the grpc-js client, backed by one grpc-js client per
 * endpoint (a balancer resource, on an `ipv4:`/`ipv6:`/`dns:` target grpc-js does not re-balance).
 * Unary calls retry with failover; server-streaming calls retry only before their first message;
 * client-streaming and bidi calls are balanced, never retried. Installs the `grpc` health check
 * (`healthCheck: { type: 'grpc' }`) on the balancer.
 *
 * @example
 * const users = createGrpcClient(balancer, pkg.users.v1.Users, grpc.credentials.createInsecure())
 * users.getUser({ id: 42 }, (error, user) => …)
 * const user = await unary(users.getUser)({ id: 42 })
 */
export function createGrpcClient<T extends Client = Client>(
  balancer: Balancer<unknown> | Balancer<never>,
  ServiceClient: GrpcServiceClientConstructor<T> | ServiceClientConstructor,
  credentials: ChannelCredentials,
  options: GrpcClientOptions = {},
): GrpcClient<T> {
  if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
  if (typeof ServiceClient !== 'function') {
    throw typeError('ServiceClient', 'a grpc-js service client constructor', ServiceClient)
  }
  if (typeof credentials !== 'object' || credentials === null || isSecure(credentials) === undefined) {
    throw typeError('credentials', 'grpc-js ChannelCredentials', credentials)
  }
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, OPTION_KEYS)
  const idempotentMethods = options.idempotentMethods
  if (
    idempotentMethods !== undefined &&
    (!Array.isArray(idempotentMethods) || idempotentMethods.some((m) => typeof m !== 'string'))
  ) {
    throw typeError('idempotentMethods', 'an array of method names', idempotentMethods)
  }
  const clientOptions = checkClientOptions(options.clientOptions)
  const service = readService(ServiceClient.service, idempotentMethods)
  const core = adapterPort(balancer)
  const secure = isSecure(credentials)
  for (const endpoint of balancer.endpoints) checkEndpoint(endpoint, secure)

  // One resource kind per client: a second client of the same service gets its own channels.
  const channels = balancer.resource(
    core.uniqueResourceName(`grpc:${service.name}`),
    channelResource(ServiceClient as GrpcServiceClientConstructor, credentials, clientOptions),
  )
  const unaryTimeout =
    checkNumber('unaryTimeout', options.unaryTimeout, { min: 0, integer: true }) ?? DEFAULT_IDLE_TIMEOUT
  const streamIdleTimeout =
    checkNumber('streamIdleTimeout', options.streamIdleTimeout, { min: 0, integer: true }) ??
    DEFAULT_STREAM_IDLE_TIMEOUT
  const limits = new TimeLimits(core.clock)
  // The limits' timer stops with the balancer: a member observer's `close` runs on `close()`.
  addOnPort(balancer).addMemberObserver({ attach() {}, detach() {}, close: () => limits.close() })
  const context: GrpcContext = {
    balancer: balancer as Balancer<unknown>,
    core,
    channels,
    unaryTimeout,
    streamIdleTimeout,
    limits,
  }
  if (!healthInstalled.has(core) && core.installHealthCheck('grpc', grpcHealthCheck(core, channels))) {
    healthInstalled.add(core)
  }

  const client: Record<string, Function> = {}
  for (const method of service.methods) {
    const fn = Object.assign(methodFor(context, method), method.definition)
    client[method.name] = fn
    if (method.originalName !== undefined) client[method.originalName] = fn
  }
  return Object.freeze(client) as GrpcClient<T>
}

/** The promise form of a unary method. */
export type UnaryPromise<Req, Res> = (request: Req, metadata?: Metadata, options?: GrpcCallOptions) => Promise<Res>

/**
 * Promise form of a unary method of a balanced client (or of any grpc-js client, bound):
 * `await unary(users.getUser)({ id: 42 }, metadata?, options?)`. Rejects with the grpc-js
 * `ServiceError` of the call.
 */
export function unary<Req, Res>(
  method: (request: Req, callback: (error: ServiceError | null, response?: Res) => void) => unknown,
): UnaryPromise<Req, Res>
export function unary<Res = unknown>(method: Function): UnaryPromise<unknown, Res>
export function unary(method: Function): UnaryPromise<unknown, unknown> {
  if (typeof method !== 'function') throw typeError('method', 'a unary method of a gRPC client', method)
  const { requestStream, responseStream } = method as { requestStream?: unknown; responseStream?: unknown }
  if (requestStream === true || responseStream === true) {
    throw typeError('method', 'a unary method (this one streams)', method)
  }
  return (request, metadata, options) =>
    new Promise((resolve, reject) => {
      const callOptions: CallOptions = options ?? NO_OPTIONS
      const done = (error: ServiceError | null, response?: unknown) =>
        error === null ? resolve(response) : reject(error)
      if (metadata === undefined) method(request, callOptions, done)
      else method(request, metadata, callOptions, done)
    })
}
