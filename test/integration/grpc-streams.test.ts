import type { Readable, Writable } from 'node:stream'
import { type Metadata, type ServerWritableStream, type ServiceError, type StatusObject, status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions } from '../../src/index.ts'
import { createGrpcClient, type GrpcClientOptions } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import {
  Echo,
  type EchoReply,
  type EchoRequest,
  type GrpcTestServer,
  grpcServers,
  insecure,
  metadataOf,
} from '../helpers/grpc-servers.ts'
import { recordAttempts } from '../helpers/harness.ts'

const cleanups = cleanupsAfterEach()

const servers = (n: number) => grpcServers(n, cleanups)

type Stream = Readable & { cancel(): void } & Partial<Writable>

function setup(
  endpoints: string[],
  options: Omit<BalancerOptions, 'endpoints'> = {},
  clientOptions: GrpcClientOptions = {},
) {
  const balancer = new Balancer({ endpoints, ...options })
  cleanups.push(() => balancer.close())
  const client = createGrpcClient(balancer, Echo, insecure, clientOptions) as unknown as Record<
    string,
    (...args: unknown[]) => Stream
  >
  const { attempts, settled: reported } = recordAttempts(balancer)
  return { balancer, client, attempts, reported }
}

/** Everything a stream emits, in order, until its `status`. */
function record(stream: Stream): Promise<{ events: string[]; messages: EchoReply[]; error?: ServiceError }> {
  const events: string[] = []
  const messages: EchoReply[] = []
  let error: ServiceError | undefined
  stream.on('metadata', (m: Metadata) => events.push(`metadata ${m.get('x-served-by')[0] ?? ''}`))
  stream.on('data', (m: EchoReply) => {
    messages.push(m)
    events.push(`data ${m.server}${m.index}`)
  })
  stream.on('error', (e: ServiceError) => {
    error = e
    events.push(`error ${e.code}`)
  })
  return new Promise((resolve) =>
    stream.on('status', (s: StatusObject) => {
      events.push(`status ${s.code}`)
      resolve({ events, messages, ...(error === undefined ? {} : { error }) })
    }),
  )
}

const request = (id: string, count = 3): EchoRequest => ({ id, message: 'hi', count })

/** Watch handlers: the first request any server gets runs `first`, the others stream `count` replies. */
function watchOnce(list: GrpcTestServer[], first: (call: ServerWritableStream<EchoRequest, EchoReply>) => void) {
  let calls = 0
  for (const s of list) {
    s.handle({
      Watch: (call) => {
        call.sendMetadata(metadataOf('x-served-by', s.name))
        if (calls++ === 0) {
          first(call)
          return
        }
        for (let i = 0; i < call.request.count; i++) call.write({ id: '', message: '', server: s.name, index: i })
        call.end()
      },
    })
  }
}

describe('createGrpcClient: streaming calls against real grpc-js servers', () => {
  it('retries a server-streaming call that fails before its first message on another endpoint', async () => {
    const list = await servers(3)
    watchOnce(list, (call) => call.emit('error', { code: status.UNAVAILABLE, details: 'restarting' }))
    const { client, attempts, reported } = setup(list.map((s) => s.address))
    const { events, messages, error } = await record(client.Watch!(request('w')))
    await reported(2)
    expect(error).toBeUndefined()
    const second = list.find((s) => s.received.length === 1 && s.name === messages[0]!.server)!
    expect(messages.map((m) => `${m.server}${m.index}`)).toEqual([0, 1, 2].map((i) => `${second.name}${i}`))
    // Only the answering attempt's headers reach the caller.
    expect(events).toEqual([
      `metadata ${second.name}`,
      ...[0, 1, 2].map((i) => `data ${second.name}${i}`),
      `status ${status.OK}`,
    ])
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(2)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([
      ['endpoint-failure', true],
      ['success', false],
    ])
  })

  it('does not retry a server-streaming call that fails after its first message', async () => {
    const list = await servers(3)
    watchOnce(list, (call) => {
      call.write({ id: '', message: '', server: 'x', index: 0 })
      call.emit('error', { code: status.UNAVAILABLE, details: 'crashed' })
    })
    const { client, attempts, reported } = setup(list.map((s) => s.address))
    const { events, error } = await record(client.Watch!(request('w')))
    await reported(1)
    expect(error?.code).toBe(status.UNAVAILABLE)
    expect(error?.details).toBe('crashed')
    expect(events.slice(1)).toEqual(['data x0', `error ${status.UNAVAILABLE}`, `status ${status.UNAVAILABLE}`])
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['endpoint-failure', false]])
  })

  it('delivers every message of a long stream to a slow reader, in order', async () => {
    const list = await servers(1)
    const { client } = setup(list.map((s) => s.address))
    const indexes: number[] = []
    for await (const reply of client.Watch!(request('w', 2_000)) as AsyncIterable<EchoReply>) {
      indexes.push(reply.index)
      // A reader slower than the stream: the adapter's buffer fills and the attempt is paused.
      if (reply.index % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(indexes).toEqual(Array.from({ length: 2_000 }, (_, i) => i))
  })

  it('counts a stream in flight until it ends', async () => {
    const [server] = (await servers(1)) as [GrpcTestServer]
    let finish: (() => void) | undefined
    server.handle({
      Watch: (call) => {
        call.write({ id: '', message: '', server: 'a', index: 0 })
        finish = () => call.end()
      },
    })
    const { balancer, client, reported } = setup([server.address])
    const stream = client.Watch!(request('w'))
    const done = record(stream)
    await new Promise((resolve) => stream.once('data', resolve))
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(1)
    finish!()
    await done
    await reported(1)
    expect(balancer.snapshot().endpoints[0]!.inFlight).toBe(0)
  })

  it('cancels a server stream on request: CANCELLED, no retry', async () => {
    const list = await servers(2)
    for (const s of list) s.handle({ Watch: (call) => call.write({ id: '', message: '', server: s.name, index: 0 }) })
    const { client, attempts, reported } = setup(list.map((s) => s.address))
    const stream = client.Watch!(request('w'))
    const done = record(stream)
    await new Promise((resolve) => stream.once('data', resolve))
    stream.cancel()
    const { error } = await done
    await reported(1)
    expect(error?.code).toBe(status.CANCELLED)
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled'])
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(1)
  })

  it('balances client-streaming calls and never retries one, even for a method marked idempotent', async () => {
    const list = await servers(3)
    const { client, attempts, reported } = setup(
      list.map((s) => s.address),
      { picker: 'round-robin' },
      { idempotentMethods: ['Collect'] },
    )
    const collect = (messages: string[]) =>
      new Promise<{ error: ServiceError | null; reply?: EchoReply }>((resolve) => {
        const stream = client.Collect!((error: ServiceError | null, reply?: EchoReply) =>
          resolve({ error, ...(reply === undefined ? {} : { reply }) }),
        )
        for (const message of messages) stream.write!({ id: '', message, count: 0 })
        stream.end!()
      })
    const replies = []
    for (let i = 0; i < 6; i++) replies.push(await collect(['a', 'b', String(i)]))
    expect(replies.map((r) => r.reply?.message)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `a,b,${i}`))
    expect(list.map((s) => s.received.length)).toEqual([2, 2, 2])
    await reported(6)

    for (const s of list)
      s.handle({ Collect: (_call, callback) => callback({ code: status.UNAVAILABLE, details: 'down' }) })
    const failed = await collect(['x'])
    await reported(7)
    expect(failed.error?.code).toBe(status.UNAVAILABLE)
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(7)
    expect(attempts.at(-1)).toMatchObject({ verdict: 'endpoint-failure', retried: false })
  })

  it('runs bidi calls on one endpoint each, balanced across endpoints, never retried', async () => {
    const list = await servers(3)
    const { client, attempts, reported } = setup(
      list.map((s) => s.address),
      { picker: 'round-robin' },
    )
    const chat = async (messages: string[]) => {
      const stream = client.Chat!()
      const done = record(stream)
      for (const message of messages) stream.write!({ id: message, message, count: 0 })
      stream.end!()
      return done
    }
    const results = [await chat(['a', 'b', 'c']), await chat(['d']), await chat(['e', 'f'])]
    expect(results.map((r) => r.messages.map((m) => m.id))).toEqual([['a', 'b', 'c'], ['d'], ['e', 'f']])
    for (const r of results) expect(new Set(r.messages.map((m) => m.server)).size).toBe(1)
    expect(new Set(results.map((r) => r.messages[0]!.server))).toEqual(new Set(['a', 'b', 'c']))
    await reported(3)

    for (const s of list) s.handle({ Chat: (call) => call.emit('error', { code: status.INTERNAL, details: 'boom' }) })
    const failed = await chat(['g'])
    await reported(4)
    expect(failed.error?.code).toBe(status.INTERNAL)
    expect(attempts.at(-1)).toMatchObject({ verdict: 'endpoint-failure', retried: false })
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(4)
  })

  it('ends a bidi call at its deadline with DEADLINE_EXCEEDED', async () => {
    const list = await servers(1)
    list[0]!.handle({ Chat: () => {} })
    const { client, attempts, reported } = setup(list.map((s) => s.address))
    const started = Date.now()
    const { error } = await record(client.Chat!({ deadline: Date.now() + 150 }))
    await reported(1)
    expect(error?.code).toBe(status.DEADLINE_EXCEEDED)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    // The caller's deadline is not the endpoint's failure.
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled'])
  })

  it('fails streams as grpc-js does when no endpoint can take them', async () => {
    const { client, attempts } = setup([])
    const bidi = await record(client.Chat!())
    expect(bidi.events).toEqual([`error ${status.UNAVAILABLE}`, `status ${status.UNAVAILABLE}`])
    const watch = await record(client.Watch!(request('w')))
    expect(watch.events).toEqual([`error ${status.UNAVAILABLE}`, `status ${status.UNAVAILABLE}`])
    const collected = await new Promise<ServiceError | null>((resolve) =>
      client.Collect!((e: ServiceError | null) => resolve(e)),
    )
    expect(collected?.code).toBe(status.UNAVAILABLE)
    expect((collected as Error & { cause?: { code?: string } }).cause?.code).toBe('KEEL_NO_ENDPOINT')
    expect(attempts).toEqual([])
  })
})
