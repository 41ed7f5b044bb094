// The gRPC adapter's idle limit on streaming calls (`streamIdleTimeout`, Envoy's stream idle
// timeout): a stream that stops talking ends with DEADLINE_EXCEEDED, one that keeps talking is
// never cut however long it lasts, and 0 turns it off. Real grpc-js servers on 127.0.0.1, a small
// limit so the test stays short; the servers pace their messages, the test waits on events.
import type { Readable, Writable } from 'node:stream'
import { Metadata, type ServiceError, type StatusObject, status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { Balancer } from '../../src/index.ts'
import { createGrpcClient, type GrpcClientOptions } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import { Echo, type EchoReply, grpcServers, insecure } from '../helpers/grpc-servers.ts'
import { recordAttempts } from '../helpers/harness.ts'

const cleanups = cleanupsAfterEach()

type Stream = Readable & Writable & { cancel(): void }

function setup(endpoints: string[], options: GrpcClientOptions) {
  const balancer = new Balancer({ endpoints, picker: 'round-robin' })
  cleanups.push(() => balancer.close())
  const client = createGrpcClient(balancer, Echo, insecure, options) as unknown as Record<
    string,
    (...args: unknown[]) => Stream
  >
  return { client, ...recordAttempts(balancer) }
}

/** The messages a stream delivers and how it ends. */
function outcome(stream: Stream): Promise<{ messages: number; status: StatusObject; error?: ServiceError }> {
  let messages = 0
  let error: ServiceError | undefined
  stream.on('data', () => messages++)
  stream.on('error', (e: ServiceError) => {
    error = e
  })
  return new Promise((resolve) =>
    stream.on('status', (s: StatusObject) => resolve({ messages, status: s, ...(error ? { error } : {}) })),
  )
}

const reply = (index: number): EchoReply => ({ id: '', message: '', server: 's', index })

describe('gRPC streaming calls: idle limit', () => {
  it('ends a server stream that goes quiet after its first message, as an endpoint failure', async () => {
    const [server] = await grpcServers(1, cleanups)
    server!.handle({ Watch: (call) => void call.write(reply(0)) }) // then nothing, never ends
    const { client, attempts } = setup([server!.address], { streamIdleTimeout: 300 })
    const started = performance.now()
    const result = await outcome(client.Watch!({ id: 'w', message: '', count: 0 }))
    expect(result.messages).toBe(1)
    expect([result.status.code, result.status.details]).toEqual([status.DEADLINE_EXCEEDED, 'Stream idle for 300 ms'])
    expect(result.error?.code).toBe(status.DEADLINE_EXCEEDED)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure'])
  })

  it('never cuts a server stream that keeps talking, however long it lasts', async () => {
    const [server] = await grpcServers(1, cleanups)
    server!.handle({
      Watch: (call) => {
        let i = 0
        const timer = setInterval(() => {
          call.write(reply(i++))
          if (i === 8) {
            clearInterval(timer)
            call.end()
          }
        }, 100)
      },
    })
    const { client } = setup([server!.address], { streamIdleTimeout: 300 })
    const started = performance.now()
    const result = await outcome(client.Watch!({ id: 'w', message: '', count: 0 }))
    expect([result.messages, result.status.code]).toEqual([8, status.OK])
    expect(performance.now() - started).toBeGreaterThan(600) // twice the idle limit
  })

  it('turns off with 0, for the client or for one call', async () => {
    const [server] = await grpcServers(1, cleanups)
    server!.handle({
      Watch: (call) => {
        call.write(reply(0))
        setTimeout(() => {
          call.write(reply(1))
          call.end()
        }, 500)
      },
    })
    const off = setup([server!.address], { streamIdleTimeout: 0 })
    expect((await outcome(off.client.Watch!({ id: 'a', message: '', count: 0 }))).status.code).toBe(status.OK)
    const perCall = setup([server!.address], { streamIdleTimeout: 200 })
    const call = perCall.client.Watch!({ id: 'b', message: '', count: 0 }, new Metadata(), {
      keel: { streamIdleTimeout: 0 },
    })
    expect((await outcome(call)).status.code).toBe(status.OK)
  })

  it('ends a bidi stream nobody talks on, and counts the caller writing as activity', async () => {
    const [server] = await grpcServers(1, cleanups)
    let received = 0
    server!.handle({
      Chat: (call) => {
        // Answers only once the caller has written five messages, then ends.
        call.on('data', () => {
          if (++received === 5) {
            call.write(reply(5))
            call.end()
          }
        })
      },
    })
    const { client, attempts } = setup([server!.address], { streamIdleTimeout: 250 })
    const quiet = await outcome(client.Chat!())
    expect([quiet.status.code, quiet.status.details]).toEqual([status.DEADLINE_EXCEEDED, 'Stream idle for 250 ms'])
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure'])

    // Five writes 100 ms apart: 500 ms in all, never 250 ms without a message.
    const chat = client.Chat!()
    const done = outcome(chat)
    let written = 0
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        chat.write({ id: String(written), message: '', count: 0 })
        if (++written === 5) {
          clearInterval(timer)
          resolve()
        }
      }, 100)
    })
    const talked = await done
    expect([talked.messages, talked.status.code]).toEqual([1, status.OK])
  })
})
