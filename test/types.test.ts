import { describe, expectTypeOf, it } from 'vitest'
import {
  type AttemptEvent,
  Balancer,
  type Endpoint,
  type EndpointInfo,
  type PanicEvent,
  type Verdict,
} from '../src/index.ts'

class FakePool {
  readonly origin: string
  constructor(origin: string) {
    this.origin = origin
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** Type tests only look at types; the calls themselves have no endpoint to reach. */
function ignore(promise: Promise<unknown>): void {
  promise.catch(() => {})
}

describe('types', () => {
  it('infers the client type from createClient', () => {
    const balancer = new Balancer({
      endpoints: [],
      createClient: (info) => new FakePool(info.origin),
      closeClient: (pool) => pool.close(),
    })
    expectTypeOf(balancer).toEqualTypeOf<Balancer<FakePool>>()
    expectTypeOf<Parameters<typeof balancer.call>[0]>().parameter(0).toEqualTypeOf<Endpoint<FakePool>>()
    ignore(
      balancer.call(async (endpoint) => {
        expectTypeOf(endpoint.client).toEqualTypeOf<FakePool>()
        expectTypeOf(endpoint).toMatchTypeOf<EndpointInfo>()
        return endpoint.client.origin
      }),
    )
    void balancer.close()
  })

  it('types call results and attempts', () => {
    const balancer = new Balancer({ endpoints: [] })
    expectTypeOf(balancer).toEqualTypeOf<Balancer<never>>()
    const numeric = balancer.call(async () => 42)
    const text = balancer.call(() => 'sync')
    ignore(numeric)
    ignore(text)
    expectTypeOf(numeric).toEqualTypeOf<Promise<number>>()
    expectTypeOf(text).toEqualTypeOf<Promise<string>>()
    ignore(
      balancer.call(async (_endpoint, attempt) => {
        expectTypeOf(attempt.signal).toEqualTypeOf<AbortSignal>()
        expectTypeOf(attempt.number).toEqualTypeOf<number>()
      }),
    )
    void balancer.close()
  })

  it('types events', () => {
    const balancer = new Balancer({ endpoints: [], createClient: () => new FakePool('x') })
    balancer.on('attempt', (event) => {
      expectTypeOf(event).toEqualTypeOf<AttemptEvent<FakePool>>()
      expectTypeOf(event.verdict).toEqualTypeOf<Verdict>()
      expectTypeOf(event.endpoint.client).toEqualTypeOf<FakePool>()
    })
    balancer.on('panic', (event) => expectTypeOf(event).toEqualTypeOf<PanicEvent>())
    balancer.on('ejected', (event) =>
      expectTypeOf(event.detector).toEqualTypeOf<'breaker' | 'outlier' | 'health' | 'overload' | 'shared'>(),
    )
    // @ts-expect-error: not an event of the balancer
    balancer.on('attempts', () => {})
    // @ts-expect-error: the listener's payload is an AttemptEvent
    balancer.on('attempt', (event: { nope: string }) => event)
    void balancer.close()
  })

  it('accepts a balancer of any client type where Balancer<unknown> is expected', () => {
    const use = (b: Balancer<unknown>) => b
    use(new Balancer({ endpoints: [], createClient: () => new FakePool('x') }))
    use(new Balancer({ endpoints: [] }))
  })
})
