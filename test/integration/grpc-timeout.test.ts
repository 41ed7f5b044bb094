// The gRPC adapter's default limit on unary attempts: a replica that accepts a call and never
// answers loses it after `unaryTimeout` (DEADLINE_EXCEEDED, an endpoint failure) and an idempotent
// call is retried elsewhere; a call with its own deadline, or `unaryTimeout: 0`, is not cut.
// Real grpc-js servers on 127.0.0.1, a small limit so the test stays short.
import { describe, expect, it } from 'vitest'
import { type AttemptEvent, Balancer } from '../../src/index.ts'
import { createGrpcClient, unary } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { Echo, type EchoReply, type EchoRequest, grpcServers, insecure } from '../helpers/grpc-servers.ts'

const cleanups = cleanupsAfterEach()

function setup(endpoints: string[], unaryTimeout?: number) {
  const balancer = new Balancer({ endpoints, picker: 'round-robin' })
  cleanups.push(() => balancer.close())
  const client = createGrpcClient(balancer, Echo, insecure, unaryTimeout === undefined ? {} : { unaryTimeout })
  const attempts: AttemptEvent[] = []
  balancer.on('attempt', (event) => attempts.push(event))
  return { attempts, idempotent: unary<EchoRequest, EchoReply>(client.IdempotentUnary as never) }
}

describe('gRPC unary default time limit', () => {
  it('ends an attempt on a replica that never answers and retries the idempotent call', async () => {
    const [hung, good] = await grpcServers(2, cleanups)
    hung!.handle({ IdempotentUnary: () => {} }) // accepted, never answered
    const { attempts, idempotent } = setup([hung!.address, good!.address], 300)
    const started = performance.now()
    const replies = [
      await idempotent({ id: 'a', message: '', count: 0 }),
      await idempotent({ id: 'b', message: '', count: 0 }),
    ]
    expect(replies.map((r) => r.server)).toEqual([good!.name, good!.name])
    expect(performance.now() - started).toBeLessThan(5_000)
    const onHung = attempts.filter((a) => a.endpoint.port === hung!.port)
    expect(onHung.length).toBeGreaterThan(0)
    for (const a of onHung) {
      expect([a.verdict, a.retried]).toEqual(['endpoint-failure', true])
      expect(a.durationMs).toBeGreaterThanOrEqual(290)
    }
  })

  it('leaves a slow call alone with unaryTimeout: 0, or when the call has its own deadline', async () => {
    const [slow] = await grpcServers(1, cleanups)
    slow!.handle({
      IdempotentUnary: (call, callback) =>
        setTimeout(() => callback(null, { id: call.request.id, message: '', server: slow!.name, index: 0 }), 600),
    })
    const off = setup([slow!.address], 0)
    expect((await off.idempotent({ id: 'x', message: '', count: 0 })).server).toBe(slow!.name)
    const bounded = setup([slow!.address], 300)
    const reply = await bounded.idempotent(
      { id: 'y', message: '', count: 0 },
      undefined as never,
      {
        deadline: Date.now() + 5_000,
      } as never,
    )
    expect(reply.server).toBe(slow!.name)
  })
})
