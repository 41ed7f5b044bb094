import { describe, expect, it } from 'vitest'
import { Balancer, type HealthCheckOptions } from '../../src/index.ts'
import { createGrpcClient, unary } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import {
  Echo,
  type EchoReply,
  type EchoRequest,
  type GrpcTestServer,
  grpcServers,
  insecure,
  startGrpcServer,
} from '../helpers/grpc-servers.ts'
import { trackSockets } from '../helpers/live-sockets.ts'

const cleanups = cleanupsAfterEach()

const servers = (n: number) => grpcServers(n, cleanups)

function setup(list: GrpcTestServer[], healthCheck: HealthCheckOptions) {
  const balancer = new Balancer({
    // Health decides who gets traffic here; round-robin makes "every healthy server gets some" exact.
    picker: 'round-robin',
    endpoints: list.map((s) => s.address),
    healthCheck: { type: 'grpc', interval: 100, timeout: 1_000, ...healthCheck },
  })
  cleanups.push(() => balancer.close())
  const client = createGrpcClient(balancer, Echo, insecure)
  return { balancer, call: unary<EchoRequest, EchoReply>(client.Unary as never) }
}

/** Resolves with the reason on the next `event` about `server`. */
function next(balancer: Balancer, event: 'healthy' | 'unhealthy' | 'ejected', server: GrpcTestServer) {
  const id = `tcp://${server.address}`
  return new Promise<string | undefined>((resolve) => {
    const listener = (payload: { endpoint: { id: string }; reason?: string }) => {
      if (payload.endpoint.id !== id) return
      balancer.off(event, listener)
      resolve(payload.reason)
    }
    balancer.on(event, listener)
  })
}

async function traffic(call: (r: EchoRequest) => Promise<EchoReply>, n: number): Promise<string[]> {
  const answered: string[] = []
  for (let i = 0; i < n; i++) answered.push((await call({ id: String(i), message: '', count: 0 })).server)
  return answered
}

describe('grpc health checks (grpc.health.v1) installed by createGrpcClient', () => {
  it('sends no traffic to a server whose health service says NOT_SERVING, and takes it back once SERVING', async () => {
    const list = await servers(3)
    const [a, b, c] = list as [GrpcTestServer, GrpcTestServer, GrpcTestServer]
    b.setHealth('', 'NOT_SERVING')
    const { balancer, call } = setup(list, {})
    const [ejected] = await Promise.all([
      next(balancer, 'ejected', b),
      next(balancer, 'healthy', a),
      next(balancer, 'healthy', c),
    ])
    expect(ejected).toBe('first grpc check failed: status NOT_SERVING, expected SERVING')
    const answered = await traffic(call, 300)
    expect(new Set(answered)).toEqual(new Set(['a', 'c']))
    expect(b.received).toEqual([])

    const back = next(balancer, 'healthy', b)
    b.setHealth('', 'SERVING')
    await back
    expect(await traffic(call, 60)).toContain('b')
  })

  it('asks for healthCheck.service and fails NOT_SERVING and an unknown service', async () => {
    const list = await servers(3)
    const [a, b, c] = list as [GrpcTestServer, GrpcTestServer, GrpcTestServer]
    a.setHealth('keel.test.Echo', 'SERVING')
    b.setHealth('keel.test.Echo', 'NOT_SERVING')
    const { balancer } = setup(list, { service: 'keel.test.Echo' })
    const [, notServing, unknown] = await Promise.all([
      next(balancer, 'healthy', a),
      next(balancer, 'ejected', b),
      next(balancer, 'ejected', c),
    ])
    expect(notServing).toMatch(/status NOT_SERVING, expected SERVING$/)
    expect(unknown).toMatch(/^first grpc check failed: 5 NOT_FOUND: unknown service keel\.test\.Echo$/)
    for (const s of list) expect(s.healthChecks[0]?.service).toBe('keel.test.Echo')
  })

  it('fails a server without the health service (UNIMPLEMENTED)', async () => {
    const bare = await startGrpcServer('bare', { health: false })
    cleanups.push(() => bare.forceShutdown())
    const { balancer } = setup([bare], {})
    expect(await next(balancer, 'ejected', bare)).toMatch(/^first grpc check failed: 12 UNIMPLEMENTED/)
  })

  it('checks over the connection the calls use (gRFC A17) and closes it with the balancer', async () => {
    const sockets = trackSockets()
    sockets.start()
    cleanups.push(() => sockets.stop())
    const list = await servers(2)
    const { balancer, call } = setup(list, {})
    await Promise.all(list.map((s) => next(balancer, 'healthy', s)))
    await traffic(call, 20)
    for (const s of list) {
      const peers = new Set([...s.healthChecks.map((h) => h.peer), ...s.received.map((r) => r.peer)])
      expect(s.received.length).toBeGreaterThan(0)
      expect(peers.size).toBe(1)
    }
    // One connection per endpoint, for checks and calls alike; close() closes them (the servers stay up).
    expect(sockets.live()).toBe(2)
    const closed = sockets.drained()
    await balancer.close()
    await closed
    expect(sockets.live()).toBe(0)
  })
})
