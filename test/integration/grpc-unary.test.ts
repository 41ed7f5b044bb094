import { Metadata, makeClientConstructor, type ServiceError, status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { type AttemptEvent, Balancer, type BalancerOptions, isKeelError } from '../../src/index.ts'
import { createGrpcClient, unary } from '../helpers/adapters.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'
import {
  Echo,
  type EchoReply,
  type EchoRequest,
  type GrpcTestServer,
  grpcServers,
  insecure,
  metadataOf,
  startRefusingServer,
} from '../helpers/grpc-servers.ts'
import { closedPort } from '../helpers/servers.ts'

const cleanups = cleanupsAfterEach()

const servers = (n: number) => grpcServers(n, cleanups)

function setup(endpoints: string[], options: Omit<BalancerOptions, 'endpoints'> = {}) {
  const balancer = new Balancer({ endpoints, ...options })
  cleanups.push(() => balancer.close())
  const client = createGrpcClient(balancer, Echo, insecure)
  const attempts: AttemptEvent[] = []
  balancer.on('attempt', (event) => attempts.push(event))
  return {
    balancer,
    client,
    attempts,
    call: unary<EchoRequest, EchoReply>(client.Unary as never),
    idempotent: unary<EchoRequest, EchoReply>(client.IdempotentUnary as never),
  }
}

/** Runs `total` calls, `concurrency` at a time; returns the errors. */
async function run(total: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<unknown[]> {
  const errors: unknown[] = []
  let next = 0
  const worker = async () => {
    while (next < total) {
      const i = next++
      await call(i).catch((error: unknown) => errors.push(error))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return errors
}

/** Resolves once `n` attempt events have been emitted. */
function attemptEvents(balancer: Balancer, n: number): Promise<void> {
  let seen = 0
  return new Promise((resolve) => {
    balancer.on('attempt', () => {
      if (++seen === n) resolve()
    })
  })
}

const request = (id: string | number): EchoRequest => ({ id: String(id), message: 'hi', count: 0 })

/** How many times each request id reached any server. */
function deliveries(list: GrpcTestServer[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const s of list) for (const r of s.received) counts.set(r.id, (counts.get(r.id) ?? 0) + 1)
  return counts
}

describe('createGrpcClient: unary calls against real grpc-js servers', () => {
  it('spreads unary calls over all three servers', async () => {
    const list = await servers(3)
    const { call } = setup(
      list.map((s) => s.address),
      { picker: 'round-robin' },
    )
    const replies: EchoReply[] = []
    for (let i = 0; i < 30; i++) replies.push(await call(request(i)))
    expect(replies.map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)))
    expect(list.map((s) => s.received.length)).toEqual([10, 10, 10])
    expect(new Set(replies.map((r) => r.server))).toEqual(new Set(['a', 'b', 'c']))
  })

  it("passes metadata and call options through and emits the answering attempt's events in grpc-js order", async () => {
    const [server] = (await servers(1)) as [GrpcTestServer]
    server.handle({
      Unary: (call, callback) => {
        call.sendMetadata(metadataOf('x-served-by', 'a'))
        callback(
          null,
          { id: call.request.id, message: String(call.metadata.get('x-trace')[0]), server: 'a', index: 0 },
          metadataOf('x-trailer', 'yes'),
        )
      },
    })
    const { client } = setup([server.address])
    const deadline = Date.now() + 5_000
    const events: string[] = []
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.Unary!(
        request(1),
        metadataOf('x-trace', 't-1'),
        { deadline },
        (error: ServiceError | null, value: EchoReply) => {
          events.push('callback')
          if (error) reject(error)
          else resolve(value)
        },
      )
      call.on('metadata', (m: Metadata) => events.push(`metadata ${m.get('x-served-by')[0]}`))
      call.on('status', (s: { code: number; metadata: Metadata }) =>
        events.push(`status ${s.code} ${s.metadata.get('x-trailer')[0]}`),
      )
    })
    expect(reply.message).toBe('t-1')
    expect(events).toEqual(['metadata a', 'callback', 'status 0 yes'])
    const seen = server.received[0]!
    expect(seen.deadline).toBeGreaterThan(Date.now())
    expect(seen.deadline).toBeLessThanOrEqual(deadline + 20)
  })

  it('returns INVALID_ARGUMENT as the server sent it, after one attempt, for an idempotent method', async () => {
    const list = await servers(3)
    for (const s of list) {
      s.handle({
        IdempotentUnary: (_call, callback) =>
          callback({
            code: status.INVALID_ARGUMENT,
            details: 'id must be numeric',
            metadata: metadataOf('x-field', 'id'),
          }),
      })
    }
    const { idempotent, attempts } = setup(list.map((s) => s.address))
    const error = (await idempotent(request('x')).catch((e: unknown) => e)) as ServiceError
    expect(error).toBeInstanceOf(Error)
    expect(isKeelError(error)).toBe(false)
    expect(error.code).toBe(status.INVALID_ARGUMENT)
    expect(error.details).toBe('id must be numeric')
    expect(error.metadata.get('x-field')).toEqual(['id'])
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(1)
    expect(attempts.map((a) => [a.verdict, a.retried])).toEqual([['caller-error', false]])
  })

  it('returns UNIMPLEMENTED once: a method the server lacks is not retried elsewhere', async () => {
    const list = await servers(2)
    const balancer = new Balancer({ endpoints: list.map((s) => s.address) })
    cleanups.push(() => balancer.close())
    const attempts: AttemptEvent[] = []
    balancer.on('attempt', (event) => attempts.push(event))
    // A client of a service the servers do not have.
    const Missing = makeClientConstructor(
      { Get: { ...Echo.service.IdempotentUnary!, path: '/keel.test.Missing/Get' } },
      'keel.test.Missing',
    )
    const client = createGrpcClient(balancer, Missing, insecure)
    const error = (await unary(client.Get as never)(request(1)).catch((e: unknown) => e)) as ServiceError
    expect(error.code).toBe(status.UNIMPLEMENTED)
    expect(attempts.map((a) => a.verdict)).toEqual(['caller-error'])
  })

  it('retries a non-idempotent call whose endpoint refuses connections: nothing was sent', async () => {
    const list = await servers(2)
    const dead = `127.0.0.1:${await closedPort()}`
    const { call, attempts } = setup([dead, ...list.map((s) => s.address)], { picker: 'round-robin' })
    const errors = await run(30, 1, (i) => call(request(i)))
    expect(errors).toEqual([])
    const toDead = attempts.filter((a) => a.endpoint.id === `tcp://${dead}`)
    expect(toDead.length).toBeGreaterThan(0)
    expect(new Set(toDead.map((a) => a.verdict))).toEqual(new Set(['not-sent']))
    expect([...deliveries(list).values()].every((n) => n === 1)).toBe(true)
  })

  it('retries a non-idempotent call refused by a GOAWAY on a connection that was READY when it started', async () => {
    const [live] = await servers(1)
    const refuser = await startRefusingServer({ id: '', message: '', server: 'refuser', index: 0 })
    cleanups.push(() => refuser.close())
    const { call, attempts } = setup([refuser.address, live!.address], {
      picker: 'round-robin',
    })
    const errors = await run(6, 1, (i) => call(request(i)))
    expect(errors).toEqual([])
    expect(refuser.streams()).toBe(2)
    const toRefuser = attempts.filter((a) => a.endpoint.id === `tcp://${refuser.address}`).map((a) => a.verdict)
    // Answered once, then refused (grpc-js's transparent retry found no connection): provably not sent.
    expect(toRefuser.slice(0, 2)).toEqual(['success', 'not-sent'])
    expect(new Set(toRefuser.slice(2))).toEqual(new Set(toRefuser.length > 2 ? ['not-sent'] : []))
    expect([...deliveries([live!]).values()].every((n) => n === 1)).toBe(true)
  })

  it('loses no call and replays none when a server shuts down gracefully in the middle of 1,000 non-idempotent calls', async () => {
    const list = await servers(3)
    const stopping = list[1]!
    let stopped: Promise<void> | undefined
    stopping.onRequest(100, () => {
      stopped = stopping.tryShutdown()
    })
    const { call, attempts } = setup(list.map((s) => s.address))
    const errors = await run(1_000, 16, (i) => call(request(i)))
    await stopped
    expect(errors).toEqual([])
    const counts = deliveries(list)
    expect(counts.size).toBe(1_000)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(stopping.received.length).toBeGreaterThanOrEqual(100)
    const notSent = attempts.filter((a) => a.verdict === 'not-sent').length
    console.log(
      `tryShutdown: ${stopping.received.length} calls reached the stopped server; ${notSent} not-sent attempts retried`,
    )
  })

  it('loses no idempotent call when a server is killed in the middle of 1,000 calls', async () => {
    const list = await servers(3)
    const killed = list[1]!
    killed.killAt(100)
    const { idempotent, attempts } = setup(list.map((s) => s.address))
    const errors = await run(1_000, 16, (i) => idempotent(request(i)))
    expect(errors).toEqual([])
    const retried = attempts.filter((a) => a.retried && a.endpoint.id === `tcp://${killed.address}`).length
    console.log(
      `forceShutdown: ${killed.received.length} calls reached the killed server; ${retried} attempts retried elsewhere`,
    )
    expect(retried).toBeGreaterThan(0)
  })

  it('replays no non-idempotent call that reached a server killed under it', async () => {
    const list = await servers(3)
    const killed = list[1]!
    killed.killAt(50)
    const { call } = setup(list.map((s) => s.address))
    const errors = (await run(300, 16, (i) => call(request(i)))) as ServiceError[]
    // The call that triggered the kill reached the server and died with it: it must fail, not run twice.
    expect(errors.length).toBeGreaterThan(0)
    // What a killed connection does to a stream in flight, as grpc-js reports it.
    const codes = new Set([status.CANCELLED, status.UNAVAILABLE, status.INTERNAL])
    expect(errors.filter((e) => !codes.has(e.code))).toEqual([])
    expect([...deliveries(list).values()].every((n) => n === 1)).toBe(true)
  })

  it('holds the deadline across retries: the retry carries the time left and the call ends at the deadline', async () => {
    const list = await servers(3)
    const arrivals: number[] = []
    for (const s of list) {
      s.handle({
        // The first request anywhere fails at once; the retry gets no answer.
        IdempotentUnary: (_call, callback) => {
          arrivals.push(Date.now())
          if (arrivals.length === 1) callback({ code: status.UNAVAILABLE, details: 'warming up' })
        },
      })
    }
    const { balancer, client, attempts } = setup(list.map((s) => s.address))
    // The cut attempt ends (and is reported) when grpc-js has cancelled it, after the callback.
    const ended = attemptEvents(balancer, 2)
    const started = Date.now()
    const deadline = started + 300
    const error = await new Promise<ServiceError>((resolve) => {
      client.IdempotentUnary!(request(1), new Metadata(), { deadline }, (e: ServiceError | null) => resolve(e!))
    })
    const elapsed = Date.now() - started
    await ended
    expect(error.code).toBe(status.DEADLINE_EXCEEDED)
    expect(elapsed).toBeGreaterThanOrEqual(290)
    // Without the deadline on the retry it would wait forever; the slack is for a loaded machine.
    expect(elapsed).toBeLessThan(300 + 500)
    const received = list.flatMap((s) => s.received)
    expect(received.length).toBe(2)
    expect(attempts.map((a) => a.verdict)).toEqual(['endpoint-failure', 'cancelled'])
    // Both attempts carry the overall deadline (grpc-timeout is relative and rounded up: allow for transit).
    for (const r of received) expect(Math.abs(r.deadline - deadline)).toBeLessThanOrEqual(20)
    expect(received[1]!.deadline - arrivals[1]!).toBeLessThan(300)
  })

  it('cancels on request: CANCELLED to the caller, no retry', async () => {
    const list = await servers(2)
    let answer: (() => void) | undefined
    for (const s of list) {
      s.handle({
        IdempotentUnary: (call, callback) => {
          answer = () => callback(null, { id: call.request.id, message: '', server: s.name, index: 0 })
        },
      })
    }
    const { balancer, client, attempts } = setup(list.map((s) => s.address))
    const ended = attemptEvents(balancer, 1)
    const events: string[] = []
    const arrived = new Promise<void>((resolve) => {
      for (const s of list) s.onRequest(1, resolve)
    })
    const error = await new Promise<ServiceError>((resolve) => {
      const call = client.IdempotentUnary!(request(1), (e: ServiceError | null) => resolve(e!))
      call.on('status', (s: { code: number }) => events.push(`status ${s.code}`))
      void arrived.then(() => call.cancel())
    })
    answer?.()
    await ended
    expect(error.code).toBe(status.CANCELLED)
    expect(error.details).toBe('Cancelled on client')
    expect(events).toEqual([`status ${status.CANCELLED}`])
    expect(list.reduce((n, s) => n + s.received.length, 0)).toBe(1)
    expect(attempts.map((a) => a.verdict)).toEqual(['cancelled'])
  })
})
