// Misuses of the API that no option validation can catch still throw an error with a `code`:
// a TypeError (as the platform throws for a wrong call) with a stable KEEL_ code.
import { describe, expect, it } from 'vitest'
import { createFetch } from '../src/adapters/fetch/index.ts'
import { httpOrigin } from '../src/adapters/http/target.ts'
import { Balancer, parseEndpoint, staticDiscovery } from '../src/index.ts'
import { ManualClock } from './helpers/clock.ts'

function caught(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

describe('usage errors have codes', () => {
  it('update(), add() and remove() on a balancer that discovery feeds: KEEL_DISCOVERY_OWNS_ENDPOINTS', async () => {
    const balancer = new Balancer({ discovery: staticDiscovery(['http://10.0.0.1:80']), clock: new ManualClock() })
    for (const run of [
      () => balancer.update(['http://10.0.0.2:80']),
      () => balancer.add('http://10.0.0.2:80'),
      () => balancer.remove('http://10.0.0.1:80'),
    ]) {
      const error = caught(run)
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ code: 'KEEL_DISCOVERY_OWNS_ENDPOINTS' })
    }
    expect(caught(() => balancer.update([]))).toHaveProperty(
      'message',
      'balancer.update() is not available when the `discovery` option is set: the discovery source owns the endpoints',
    )
    await balancer.close()
  })

  it('endpoint.client without createClient: KEEL_NO_CREATE_CLIENT', async () => {
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock: new ManualClock() })
    const error = await balancer.call(async (endpoint) => caught(() => endpoint.client))
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({
      code: 'KEEL_NO_CREATE_CLIENT',
      message: '`endpoint.client` needs the balancer option `createClient`',
    })
    await balancer.close()
  })

  it('an absolute URL to createFetch outside its serviceUrl: KEEL_URL_OUTSIDE_SERVICE', async () => {
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], clock: new ManualClock() })
    const plain = await createFetch(balancer)('http://users.internal/u/1').catch((e: unknown) => e)
    expect(plain).toBeInstanceOf(TypeError)
    expect(plain).toMatchObject({
      code: 'KEEL_URL_OUTSIDE_SERVICE',
      message:
        "createFetch: http://users.internal/u/1 is absolute; pass a path such as '/users/42', or set `serviceUrl`",
    })
    const scoped = createFetch(balancer, { serviceUrl: 'http://users.internal/api' })
    const outside = await scoped('http://orders.internal/o/1').catch((e: unknown) => e)
    expect(outside).toMatchObject({ code: 'KEEL_URL_OUTSIDE_SERVICE' })
    await balancer.close()
  })

  it('an HTTP adapter on a gRPC endpoint: KEEL_UNSUPPORTED_PROTOCOL', () => {
    expect(caught(() => httpOrigin(parseEndpoint('grpc://10.0.0.1:50051')))).toMatchObject({
      code: 'KEEL_UNSUPPORTED_PROTOCOL',
      message: 'Endpoint grpc://10.0.0.1:50051 is grpc:: an HTTP adapter needs an http: or https: endpoint',
    })
  })
})
