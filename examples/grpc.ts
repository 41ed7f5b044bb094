// Balancing a grpc-js client with keel: three replicas on 127.0.0.1, one of them reporting
// NOT_SERVING on grpc.health.v1, and one stopped in the middle of the calls.
// Run: npm run build && node examples/grpc.ts
import {
  credentials,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { Balancer } from 'keel'
import { createGrpcClient, unary } from 'keel/grpc'

interface HelloReply {
  message: string
  replica: string
}

// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const proto = loadPackageDefinition(loadSync(new URL('protos/greeter.proto', import.meta.url).pathname)) as any
const Greeter = proto.greeter.v1.Greeter as ServiceClientConstructor

/** The minimal grpc.health.v1 service a replica needs for keel's `grpc` health checks. */
const healthService: ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    // HealthCheckResponse { status = 1 }: field 1, varint.
    responseSerialize: (status: number) => Buffer.from([0x08, status]),
    responseDeserialize: (bytes: Buffer) => bytes,
  },
}

async function startReplica(name: string, serving: boolean) {
  const server = new Server()
  server.addService(Greeter.service, {
    SayHello: (call: ServerUnaryCall<{ name: string }, HelloReply>, callback: sendUnaryData<HelloReply>) =>
      callback(null, { message: `Hello, ${call.request.name}`, replica: name }),
    Countdown: (call: ServerWritableStream<{ from: number }, HelloReply>) => {
      for (let i = call.request.from; i > 0; i--) call.write({ message: String(i), replica: name })
      call.end()
    },
  })
  server.addService(healthService, {
    Check: (_call: unknown, callback: sendUnaryData<number>) => callback(null, serving ? 1 : 2),
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  )
  return { name, server, address: `127.0.0.1:${port}` }
}

const replicas = [await startReplica('a', true), await startReplica('b', true), await startReplica('sick', false)]

const balancer = new Balancer({
  endpoints: replicas.map((r) => r.address),
  healthCheck: { type: 'grpc', interval: 200 },
})
balancer.on('ejected', ({ endpoint, reason }) => console.log(`ejected ${endpoint.id}: ${reason}`))
const greeter = createGrpcClient(balancer, Greeter, credentials.createInsecure())
const sayHello = unary<{ name: string }, HelloReply>(greeter.SayHello!)

// Let the first round of health checks finish (the sick replica gets no traffic after it).
await new Promise((resolve) => balancer.once('ejected', resolve))

const counts: Record<string, number> = {}
for (let i = 0; i < 300; i++) {
  if (i === 150) replicas[0]!.server.forceShutdown() // SayHello is NO_SIDE_EFFECTS: retried elsewhere
  const reply = await sayHello({ name: `call ${i}` })
  counts[reply.replica] = (counts[reply.replica] ?? 0) + 1
}
console.log('300 calls answered by:', counts)

const countdown: string[] = []
for await (const reply of greeter.Countdown!({ from: 3 }) as AsyncIterable<HelloReply>) {
  countdown.push(`${reply.message} (${reply.replica})`)
}
console.log('server stream:', countdown.join(', '))

await balancer.close()
for (const replica of replicas) replica.server.forceShutdown()
