import { createServer as createHttp2Server, constants as http2, type ServerHttp2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'
import {
  credentials,
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'

const fixtures = new URL('../fixtures/grpc/', import.meta.url).pathname

export interface EchoRequest {
  id: string
  message: string
  count: number
}

export interface EchoReply {
  id: string
  message: string
  server: string
  index: number
}

// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const echoPackage = loadPackageDefinition(loadSync(`${fixtures}echo.proto`)) as any
// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const healthPackage = loadPackageDefinition(loadSync(`${fixtures}health.proto`)) as any

/** The test service's client constructor (what users get from `loadPackageDefinition`). */
export const Echo = echoPackage.keel.test.Echo as ServiceClientConstructor
const HealthService = healthPackage.grpc.health.v1.Health as ServiceClientConstructor

export const insecure = credentials.createInsecure()

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN'

/** One request as a test server saw it. */
export interface Received {
  method: string
  id: string
  metadata: Metadata
  /** The call's deadline on the server (from `grpc-timeout`), ms since the epoch; Infinity without one. */
  deadline: number
  /** The client's address and port: which connection carried the call. */
  peer: string
}

export interface EchoHandlers {
  Unary?: handleUnaryCall<EchoRequest, EchoReply>
  IdempotentUnary?: handleUnaryCall<EchoRequest, EchoReply>
  Watch?: handleServerStreamingCall<EchoRequest, EchoReply>
  Collect?: handleClientStreamingCall<EchoRequest, EchoReply>
  Chat?: handleBidiStreamingCall<EchoRequest, EchoReply>
}

export interface GrpcTestServer {
  readonly name: string
  readonly port: number
  /** `127.0.0.1:port`: a keel endpoint. */
  readonly address: string
  /** Every Echo request, in arrival order (streams: once, at their start). */
  readonly received: Received[]
  /** Health checks received, in order: the service asked and the client connection. */
  readonly healthChecks: { service: string; peer: string }[]
  /** Replaces handlers (the default ones echo, naming this server). */
  handle(handlers: EchoHandlers): void
  /** Calls `fn` when the n-th Echo request arrives, before it is handled. */
  onRequest(n: number, fn: () => void): void
  /**
   * Kills the server (`forceShutdown`) when the n-th Echo request arrives: that request is never
   * answered, so it is in flight when the connection dies.
   */
  killAt(n: number): void
  setHealth(service: string, status: ServingStatus): void
  tryShutdown(): Promise<void>
  forceShutdown(): void
}

function deadlineOf(call: { getDeadline(): Date | number }): number {
  const deadline = call.getDeadline()
  return deadline instanceof Date ? deadline.getTime() : deadline
}

/**
 * A real grpc-js server on 127.0.0.1:0 with the Echo service and `grpc.health.v1.Health/Check`
 * (statuses settable per service; `''` is SERVING unless set), logging every request.
 */
export async function startGrpcServer(
  name: string,
  options: { health?: boolean; only?: (keyof EchoHandlers)[] } = {},
): Promise<GrpcTestServer> {
  const received: Received[] = []
  const healthChecks: { service: string; peer: string }[] = []
  const statuses = new Map<string, ServingStatus>([['', 'SERVING']])
  const triggers = new Map<number, () => void>()
  let holdAt = 0
  const reply = (request: EchoRequest, index = 0): EchoReply => ({
    id: request.id,
    message: request.message,
    server: name,
    index,
  })
  const defaults: Required<EchoHandlers> = {
    Unary: (call, callback) => callback(null, reply(call.request)),
    IdempotentUnary: (call, callback) => callback(null, reply(call.request)),
    Watch: (call) => {
      for (let i = 0; i < call.request.count; i++) call.write(reply(call.request, i))
      call.end()
    },
    Collect: (call, callback) => {
      const messages: string[] = []
      call.on('data', (request: EchoRequest) => messages.push(request.message))
      call.on('end', () =>
        callback(null, { id: '', message: messages.join(','), server: name, index: messages.length }),
      )
    },
    Chat: (call) => {
      let index = 0
      call.on('data', (request: EchoRequest) => call.write(reply(request, index++)))
      call.on('end', () => call.end())
    },
  }
  let handlers: Required<EchoHandlers> = { ...defaults }
  const log = (
    method: string,
    call: { request?: EchoRequest; metadata: Metadata; getDeadline(): Date | number; getPeer(): string },
  ) => {
    received.push({
      method,
      id: call.request?.id ?? '',
      metadata: call.metadata,
      deadline: deadlineOf(call),
      peer: call.getPeer(),
    })
    triggers.get(received.length)?.()
    return received.length !== holdAt
  }
  const implementation: Record<string, unknown> = {
    Unary: (call: Parameters<handleUnaryCall<EchoRequest, EchoReply>>[0], cb: never) => {
      if (log('Unary', call)) handlers.Unary(call, cb)
    },
    IdempotentUnary: (call: Parameters<handleUnaryCall<EchoRequest, EchoReply>>[0], cb: never) => {
      if (log('IdempotentUnary', call)) handlers.IdempotentUnary(call, cb)
    },
    Watch: (call: Parameters<handleServerStreamingCall<EchoRequest, EchoReply>>[0]) => {
      if (log('Watch', call)) handlers.Watch(call)
    },
    Collect: (call: Parameters<handleClientStreamingCall<EchoRequest, EchoReply>>[0], cb: never) => {
      if (log('Collect', call)) handlers.Collect(call, cb)
    },
    Chat: (call: Parameters<handleBidiStreamingCall<EchoRequest, EchoReply>>[0]) => {
      if (log('Chat', call)) handlers.Chat(call)
    },
  }
  const server = new Server()
  const only = options.only
  const service = only === undefined ? Echo.service : pick(Echo.service, only)
  server.addService(
    service,
    Object.fromEntries(
      Object.entries(implementation).filter(([k]) => only === undefined || only.includes(k as never)),
    ) as UntypedServiceImplementation,
  )
  if (options.health !== false) {
    server.addService(HealthService.service, {
      Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
        const service = call.request.service ?? '' // proto3 default: proto-loader leaves it undefined
        healthChecks.push({ service, peer: call.getPeer() })
        const current = statuses.get(service)
        if (current === undefined) callback({ code: status.NOT_FOUND, details: `unknown service ${service}` })
        else callback(null, { status: current })
      },
    })
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  )
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    received,
    healthChecks,
    handle(next) {
      handlers = { ...handlers, ...next } as Required<EchoHandlers>
    },
    onRequest(n, fn) {
      triggers.set(n, fn)
    },
    killAt(n) {
      holdAt = n
      // Not from inside the handler: destroying an HTTP/2 session from a stream handler while
      // DATA frames are buffered aborts Node 22 (nodejs/node#64850).
      triggers.set(n, () => setImmediate(() => server.forceShutdown()))
    },
    setHealth(service, next) {
      statuses.set(service, next)
    },
    tryShutdown: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    forceShutdown: () => server.forceShutdown(),
  }
}

function pick(service: ServiceDefinition, names: string[]): ServiceDefinition {
  return Object.fromEntries(Object.entries(service).filter(([k]) => names.includes(k))) as ServiceDefinition
}

/** `n` servers named a, b, c, … */
export function startGrpcServers(n: number): Promise<GrpcTestServer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startGrpcServer(String.fromCharCode(97 + i))))
}

/** Metadata with one entry. */
export function metadataOf(key: string, value: string): Metadata {
  const metadata = new Metadata()
  metadata.set(key, value)
  return metadata
}

/**
 * A raw HTTP/2 server that answers its first gRPC call (with `reply`) and meets the second as a
 * server starting a graceful shutdown at that very moment does: it stops listening and sends
 * GOAWAY naming the first stream as the last it processed, so the client's second stream is
 * refused unprocessed (`REFUSED_STREAM`), on a connection that was READY when the call started.
 */
export async function startRefusingServer(
  reply: EchoReply,
): Promise<{ address: string; streams: () => number; close(): void }> {
  const sessions = new Set<ServerHttp2Session>()
  let streams = 0
  const server = createHttp2Server()
  server.on('session', (session) => sessions.add(session))
  server.on('stream', (stream) => {
    streams++
    // The refused stream ends with REFUSED_STREAM on this side too.
    stream.on('error', () => {})
    if (streams > 1) {
      stream.session?.goaway(http2.NGHTTP2_NO_ERROR, 1)
      server.close()
      return
    }
    stream.resume()
    stream.on('end', () => {
      const body = Echo.service.Unary!.responseSerialize(reply)
      const frame = Buffer.alloc(5 + body.length)
      frame.writeUInt32BE(body.length, 1)
      body.copy(frame, 5)
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
      stream.end(frame)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    streams: () => streams,
    close() {
      server.close()
      for (const session of sessions) session.destroy()
    },
  }
}

/** Starts `n` servers and registers their shutdown in `cleanups`. */
export async function grpcServers(n: number, cleanups: (() => Promise<void> | void)[]): Promise<GrpcTestServer[]> {
  const list = await startGrpcServers(n)
  for (const s of list) cleanups.push(() => s.forceShutdown())
  return list
}
