import {
  type CallOptions,
  type Client,
  type ClientUnaryCall,
  credentials,
  Metadata,
  makeClientConstructor,
  type requestCallback,
  type ServiceError,
  status,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import { channelOptions, checkEndpoint, grpcTarget } from '../../src/adapters/grpc/channel.ts'
import { provenUnsent, surfaceError } from '../../src/adapters/grpc/errors.ts'
import {
  createGrpcClient,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  type GrpcClient,
  unary,
} from '../../src/adapters/grpc/index.ts'
import { readService } from '../../src/adapters/grpc/methods.ts'
import {
  Balancer,
  DeadlineExceededError,
  NoEndpointAvailableError,
  parseEndpoint,
  RetriesExhaustedError,
} from '../../src/index.ts'
import { Echo, insecure } from '../helpers/grpc-servers.ts'

const balancers: Balancer[] = []
afterEach(async () => {
  await Promise.all(balancers.splice(0).map((b) => b.close()))
})
const balancerOf = (endpoints: string[] = ['127.0.0.1:1']) => {
  const balancer = new Balancer({ endpoints })
  balancers.push(balancer)
  return balancer
}
const tls = credentials.createSsl()

describe('createGrpcClient', () => {
  it('exposes every method under its proto name and camel-case alias, with its definition', () => {
    const client = createGrpcClient(balancerOf(), Echo, insecure)
    expect(Object.keys(client).sort()).toEqual(
      [
        'Unary',
        'unary',
        'IdempotentUnary',
        'idempotentUnary',
        'Watch',
        'watch',
        'Collect',
        'collect',
        'Chat',
        'chat',
      ].sort(),
    )
    expect(client.Unary).toBe(client.unary)
    expect({ ...client.Watch }).toMatchObject({
      path: '/keel.test.Echo/Watch',
      requestStream: false,
      responseStream: true,
    })
  })

  it('rejects what is not a balancer, a service client, credentials or known options', () => {
    expect(() => createGrpcClient({} as never, Echo, insecure)).toThrow(/Expected `balancer` to be a keel Balancer/)
    expect(() => createGrpcClient(balancerOf(), {} as never, insecure)).toThrow(/Expected `ServiceClient`/)
    expect(() => createGrpcClient(balancerOf(), Echo, {} as never)).toThrow(/Expected `credentials`/)
    expect(() => createGrpcClient(balancerOf(), Echo, insecure, { retries: 2 } as never)).toThrow(
      /Unknown option `retries`/,
    )
    expect(() => createGrpcClient(balancerOf(), Echo, insecure, { idempotentMethods: ['Unray'] })).toThrow(
      /Expected `idempotentMethods` to be method names of keel\.test\.Echo .*got "Unray"/,
    )
    expect(() =>
      createGrpcClient(balancerOf(), Echo, insecure, { clientOptions: { channelOverride: {} as never } }),
    ).toThrow(/clientOptions\.channelOverride/)
    const retrying = JSON.stringify({ methodConfig: [{ name: [{}], retryPolicy: { maxAttempts: 3 } }] })
    expect(() =>
      createGrpcClient(balancerOf(), Echo, insecure, { clientOptions: { 'grpc.service_config': retrying } }),
    ).toThrow(/without retryPolicy or hedgingPolicy/)
  })

  it('refuses endpoints it cannot dial with the credentials, naming them', () => {
    expect(() => createGrpcClient(balancerOf(['grpcs://10.0.0.1:443']), Echo, insecure)).toThrow(
      'gRPC endpoint grpcs://10.0.0.1:443 is TLS but the credentials are insecure',
    )
    expect(() => createGrpcClient(balancerOf(['grpc://10.0.0.1:80']), Echo, tls)).toThrow(
      'gRPC endpoint grpc://10.0.0.1:80 is plaintext but the credentials are TLS',
    )
    expect(() => createGrpcClient(balancerOf(['http://10.0.0.1:80/api']), Echo, insecure)).toThrow(/has a path prefix/)
    // A bare host:port (tcp:) follows the credentials; http:/https: are h2c and TLS.
    expect(() => createGrpcClient(balancerOf(['10.0.0.1:50051', 'http://10.0.0.2:80']), Echo, insecure)).not.toThrow()
    expect(() => createGrpcClient(balancerOf(['10.0.0.1:50051', 'https://10.0.0.2:443']), Echo, tls)).not.toThrow()
  })

  it('gives a second client of the same service on one balancer its own channels', () => {
    const balancer = balancerOf()
    createGrpcClient(balancer, Echo, insecure)
    expect(() => createGrpcClient(balancer, Echo, tls)).not.toThrow()
  })

  it('types the client after the typed service client and the promise helper after the method', () => {
    interface Req {
      id: string
    }
    interface Reply {
      ok: boolean
    }
    // The shape proto-loader-gen-types generates: four overloads, the callback-only one last.
    interface TypedClient extends Client {
      get(request: Req, metadata: Metadata, options: CallOptions, callback: requestCallback<Reply>): ClientUnaryCall
      get(request: Req, metadata: Metadata, callback: requestCallback<Reply>): ClientUnaryCall
      get(request: Req, options: CallOptions, callback: requestCallback<Reply>): ClientUnaryCall
      get(request: Req, callback: requestCallback<Reply>): ClientUnaryCall
    }
    type Typed = GrpcClient<TypedClient>
    expectTypeOf<Extract<keyof Typed, 'close' | 'getChannel' | 'makeUnaryRequest'>>().toEqualTypeOf<never>()
    expectTypeOf<Typed['get']>().toEqualTypeOf<TypedClient['get']>()
    const promised = (client: Typed) => unary(client.get)
    expectTypeOf<ReturnType<typeof promised>>().parameter(0).toEqualTypeOf<Req>()
    expectTypeOf<Awaited<ReturnType<ReturnType<typeof promised>>>>().toEqualTypeOf<Reply>()
  })

  it('unary() refuses a streaming method', () => {
    const client = createGrpcClient(balancerOf(), Echo, insecure)
    expect(() => unary(client.Watch as never)).toThrow(/a unary method \(this one streams\)/)
  })
})

describe('readService', () => {
  it('takes idempotency from the proto option or idempotentMethods by name, alias or path', () => {
    const idempotent = (names?: string[]) =>
      Object.fromEntries(readService(Echo.service, names).methods.map((m) => [m.name, m.idempotent]))
    expect(idempotent()).toEqual({ Unary: false, IdempotentUnary: true, Watch: true, Collect: false, Chat: false })
    expect(idempotent(['unary', '/keel.test.Echo/Collect'])).toMatchObject({ Unary: true, Collect: true })
    expect(readService(Echo.service, undefined).name).toBe('keel.test.Echo')
  })

  it('reads a grpc-tools style definition without proto options as not idempotent', () => {
    const Plain = makeClientConstructor(
      { Get: { ...Echo.service.IdempotentUnary!, options: undefined } as never },
      'plain.Service',
    )
    expect(readService(Plain.service, undefined).methods[0]).toMatchObject({ idempotent: false, kind: 'unary' })
  })
})

describe('per-endpoint channels', () => {
  const info = (url: string, servername?: string) => parseEndpoint(url, servername === undefined ? {} : { servername })

  it('dials one address per endpoint: ipv4:, ipv6: or dns:', () => {
    expect(grpcTarget(info('10.0.0.1:50051'))).toBe('ipv4:10.0.0.1:50051')
    expect(grpcTarget(info('[::1]:50051'))).toBe('ipv6:[::1]:50051')
    expect(grpcTarget(info('users.internal:50051'))).toBe('dns:users.internal:50051')
  })

  it("keeps the logical name for authority and TLS, lets the user's options win, never resolves a service config", () => {
    expect(channelOptions(info('grpcs://10.0.0.1:443', 'users.example.com'), {}, true)).toEqual({
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 250,
      'grpc.default_authority': 'users.example.com',
      'grpc.ssl_target_name_override': 'users.example.com',
      'grpc.service_config_disable_resolution': 1,
    })
    expect(channelOptions(info('10.0.0.1:50051', 'users'), {}, false)).toEqual({
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 250,
      'grpc.default_authority': 'users:50051',
      'grpc.service_config_disable_resolution': 1,
    })
    const user = channelOptions(
      info('10.0.0.1:50051'),
      {
        'grpc.service_config_disable_resolution': 0,
        'grpc.use_local_subchannel_pool': 0,
        'grpc.max_reconnect_backoff_ms': 120_000,
      },
      false,
    )
    expect(user).toMatchObject({
      'grpc.use_local_subchannel_pool': 0,
      'grpc.service_config_disable_resolution': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 120_000,
    })
    expect(() => checkEndpoint(info('tcp://10.0.0.1:1'), true)).not.toThrow()
  })
})

describe('proof that nothing was sent', () => {
  const channel = { target: 'ipv4:10.0.0.1:1', readyEpoch: 3 } as never
  it('holds when the channel was never READY during the attempt, or the last try had no transport', () => {
    expect(provenUnsent({ channel, wasReady: false, epoch: 3 }, '10.0.0.1:1')).toBe(true)
    expect(provenUnsent({ channel, wasReady: false, epoch: 2 }, '10.0.0.1:1')).toBe(false)
    expect(provenUnsent({ channel, wasReady: true, epoch: 3 }, '10.0.0.1:1')).toBe(false)
    expect(provenUnsent({ channel, wasReady: true, epoch: 3 }, 'ipv4:10.0.0.1:1')).toBe(true)
  })
})

describe('surfaceError', () => {
  const unavailable = Object.assign(new Error('14 UNAVAILABLE: down'), {
    code: status.UNAVAILABLE,
    details: 'down',
    metadata: new Metadata(),
  })

  it("unwraps RetriesExhaustedError to the last attempt's ServiceError", () => {
    const wrapped = new RetriesExhaustedError('retries', [], unavailable)
    expect(surfaceError(wrapped)).toBe(unavailable)
    expect(surfaceError(unavailable)).toBe(unavailable)
  })

  it("maps keel's own errors to the ServiceError grpc-js would give, keeping them as cause", () => {
    const deadline = surfaceError(new DeadlineExceededError(100)) as ServiceError & { cause: unknown }
    expect([deadline.code, deadline.details, deadline.message]).toEqual([
      status.DEADLINE_EXCEEDED,
      'Deadline exceeded',
      '4 DEADLINE_EXCEEDED: Deadline exceeded',
    ])
    expect(deadline.cause).toBeInstanceOf(DeadlineExceededError)
    const none = surfaceError(new NoEndpointAvailableError('empty')) as ServiceError
    expect([none.code, none.details]).toEqual([
      status.UNAVAILABLE,
      'No endpoint available: the balancer has no endpoints',
    ])
    const bug = new TypeError('x is not a function')
    expect(surfaceError(bug)).toBe(bug)
  })
})

describe('grpc.health.v1 codec', () => {
  // protobufjs (through proto-loader) on the published proto: an independent encoder to agree with.
  const health = loadSync(new URL('../fixtures/grpc/health.proto', import.meta.url).pathname)[
    'grpc.health.v1.Health'
  ] as unknown as Record<'Check', { requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer }>

  it('encodes HealthCheckRequest as protobuf does', () => {
    expect(encodeHealthCheckRequest('')).toEqual(Buffer.alloc(0))
    for (const service of ['a.B', 'keel.test.Echo', 'x'.repeat(200), 'ünïcode']) {
      expect(health.Check.requestDeserialize(encodeHealthCheckRequest(service))).toEqual({ service })
    }
  })

  it('decodes ServingStatus, defaulting to UNKNOWN and skipping unknown fields', () => {
    const statuses = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']
    statuses.forEach((name, i) => {
      expect(decodeHealthCheckResponse(health.Check.responseSerialize({ status: name }))).toBe(i)
    })
    expect(decodeHealthCheckResponse(Buffer.alloc(0))).toBe(0)
    // field 2 (varint), field 3 (length-delimited "hi"), field 4 (fixed32), then status
    expect(
      decodeHealthCheckResponse(Buffer.from([0x10, 0x05, 0x1a, 0x02, 0x68, 0x69, 0x25, 1, 2, 3, 4, 0x08, 0x01])),
    ).toBe(1)
    expect(() => decodeHealthCheckResponse(Buffer.from([0x08]))).toThrow(/truncated/)
    expect(() => decodeHealthCheckResponse(Buffer.from([0x1a, 0x05, 0x00]))).toThrow(/truncated/)
  })
})
