// What a finished request leaves reachable from the objects its caller keeps. The caller may keep
// them as long as it likes (undici's `request()` keeps its controller in a closure, grpc-js users
// keep the call object), and whatever they reach after the end is copied by every young-generation
// collection until a full one (docs/benchmarks.md, "What a request leaves to the collector").
// A WeakRef to an object only that path could keep must be cleared by a full collection.
import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { Balancer } from '../../src/index.ts'
import { BalancerDispatcher, createGrpcClient } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { Echo, grpcServers, insecure } from '../helpers/grpc-servers.ts'
import { adapterHarness } from '../helpers/harness.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const { servers, observe } = adapterHarness()
const cleanups = cleanupsAfterEach()

/** A full collection on a later turn: WeakRefs made or read in this job stay alive until it ends. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  await turn()
  gc()
  return ref.deref() === undefined
}

describe('objects a finished request leaves reachable', () => {
  it.each([
    ['GET (held whole, then replayed)', 'GET'],
    ['POST (handed over as it streams)', 'POST'],
  ])('BalancerDispatcher, %s: the controller the caller keeps no longer reaches its handler', async (_name, method) => {
    const backends = await servers(1)
    const dispatcher = new BalancerDispatcher(observe(backends.map((s) => s.url)).balancer)
    let kept: Dispatcher.DispatchController | undefined
    let ended!: () => void
    const end = new Promise<void>((resolve) => (ended = resolve))
    // The handler lives in this function only: afterwards, keel's dispatch is all that could keep it.
    const handlerRef = ((): WeakRef<object> => {
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (controller) => {
          kept = controller
        },
        onResponseEnd: () => ended(),
        onResponseError: (_controller, error) => {
          throw error
        },
      }
      dispatcher.dispatch(
        { origin: 'http://users.internal', path: '/', method, body: method === 'POST' ? 'x' : null },
        handler,
      )
      return new WeakRef(handler)
    })()
    await end
    expect(await collected(handlerRef)).toBe(true)
    // The controller itself is still the caller's to keep (and to call: a no-op now).
    expect(kept).toBeDefined()
    kept!.resume()
  })

  it('gRPC unary: the call object the caller keeps no longer reaches the call keel ran', async () => {
    const [server] = await grpcServers(1, cleanups)
    const balancer = new Balancer({ endpoints: [server!.address], picker: 'ring-hash' })
    cleanups.push(() => balancer.close())
    const client = createGrpcClient(balancer, Echo, insecure) as unknown as Record<string, Function>
    let ended!: (error: unknown) => void
    const end = new Promise<unknown>((resolve) => (ended = resolve))
    // The routing key is the caller's object, and only keel's run of the call holds it (grpc-js
    // never sees `options.keel`; it keeps the request and metadata itself as long as its call).
    const { call, keyRef } = (() => {
      const key = new Uint8Array(32)
      const call = client.Unary!({ id: 'a', message: '', count: 0 }, { keel: { key } }, (error: unknown) =>
        ended(error),
      )
      return { call, keyRef: new WeakRef(key) }
    })()
    expect(await end).toBeNull()
    expect(await collected(keyRef)).toBe(true)
    expect(call.getPeer()).toContain('127.0.0.1')
  })
})
