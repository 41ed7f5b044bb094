// A killed gRPC replica that listens again is back in the rotation within 2 s: keel's re-admission
// probes (from 1 s, ×1.25) find its channel connected, because the adapter's channels retry a
// refused connection every quarter second instead of on grpc-js's growing backoff (1 s, ×1.6, up to
// 120 s), which left the channel in TRANSIENT_FAILURE, failing every probe, for seconds after the
// replica came back. Real grpc-js servers on 127.0.0.1; the good replica answers after 10 ms, which
// paces the caller's loop.
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { Balancer } from '../../src/index.ts'
import { createGrpcClient, unary } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { freeTcpPort } from '../helpers/free-port.ts'
import { Echo, type EchoReply, type EchoRequest, grpcServers, insecure } from '../helpers/grpc-servers.ts'

const cleanups = cleanupsAfterEach()

/** A replica on a fixed port, so it can come back where the balancer expects it. */
async function replica(port: number, onCall: () => void): Promise<Server> {
  const server = new Server()
  server.addService(Echo.service, {
    IdempotentUnary: (call: ServerUnaryCall<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) => {
      onCall()
      callback(null, { id: call.request.id, message: '', server: 'victim', index: 0 })
    },
  })
  cleanups.push(() => server.forceShutdown())
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  )
  return server
}

describe('gRPC re-admission after a replica listens again', () => {
  it('sends the restarted replica a call within 2 s of it listening', async () => {
    const port = await freeTcpPort()
    const [good] = await grpcServers(1, cleanups)
    good!.handle({
      IdempotentUnary: (call, callback) =>
        setTimeout(() => callback(null, { id: call.request.id, message: '', server: good!.name, index: 0 }), 10),
    })
    let victimCalls = 0
    const first = await replica(port, () => victimCalls++)
    // No jitter: probes 1, 1.25, 1.56, 1.95 s apart, so the test's timing does not depend on luck.
    const balancer = new Balancer({
      endpoints: [`127.0.0.1:${port}`, good!.address],
      picker: 'round-robin',
      random: () => 0.5,
    })
    cleanups.push(() => balancer.close())
    const call = unary<EchoRequest, EchoReply>(createGrpcClient(balancer, Echo, insecure).IdempotentUnary as never)
    const request = { id: 'x', message: '', count: 0 }
    while (victimCalls < 3) await call(request)

    first.forceShutdown()
    // Down for 3 s of steady traffic: long enough for grpc-js's own backoff to reach 2.6 s.
    const downUntil = performance.now() + 3_000
    while (performance.now() < downUntil) await call(request)
    const before = victimCalls
    await replica(port, () => victimCalls++)
    const listening = performance.now()
    while (victimCalls === before && performance.now() - listening < 5_000) await call(request)
    expect(victimCalls).toBeGreaterThan(before)
    expect(performance.now() - listening).toBeLessThanOrEqual(2_000)
  })
})
