import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import axios from 'axios'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { axiosAdapter } from '../../src/adapters/axios/index.ts'
import { createFetch } from '../../src/adapters/fetch/index.ts'
import { BalancerDispatcher } from '../../src/adapters/undici/index.ts'
import { type AttemptEvent, Balancer } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'
import { deferred } from '../helpers/deferred.ts'
import { closedPort, startServers, type TestServer } from '../helpers/servers.ts'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

type Send = (balancer: Balancer<unknown>, body: Readable) => Promise<string>

/** The same PUT of a stream body through each HTTP adapter; resolves with the response text. */
const ADAPTERS: [string, Send][] = [
  [
    'createFetch',
    async (balancer, body) => {
      const init = { method: 'PUT', body, duplex: 'half' } as unknown as RequestInit
      return (await createFetch(balancer)('/upload', init)).text()
    },
  ],
  [
    'BalancerDispatcher',
    async (balancer, body) => {
      const dispatcher = new BalancerDispatcher(balancer)
      return (await request('http://svc.internal/upload', { method: 'PUT', body, dispatcher })).body.text()
    },
  ],
  [
    'axiosAdapter',
    async (balancer, body) => {
      const api = axios.create({ adapter: axiosAdapter(balancer), responseType: 'text' })
      return (await api.put<string>('/upload', body)).data
    },
  ],
]

/**
 * An async source that yields each chunk on a later turn of the event loop, as a file or socket
 * does; chunks after the first wait for `gate` when one is given.
 */
function slowBody(tag: string, chunks: number, gate?: Promise<void>): { body: Readable; text: string } {
  const parts = Array.from({ length: chunks }, (_, i) => `${tag}.${i};`)
  async function* produce() {
    for (const [i, part] of parts.entries()) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (i > 0 && gate !== undefined) await gate
      yield Buffer.from(part)
    }
  }
  return { body: Readable.from(produce()), text: parts.join('') }
}

async function servers(n: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer[]> {
  const list = await startServers(n, handler)
  open.push(...list)
  return list
}

describe.each(ADAPTERS)('a stream body through %s', (_name, send) => {
  it('is never hedged: a hedge is a second send', async () => {
    const clock = new ManualClock()
    const { fire: arrived, fired: reached } = deferred()
    const { fire: answer, fired: answered } = deferred()
    const bodies: string[] = []
    const backends = await servers(2, (req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk))
      req.on('end', () => {
        bodies.push(body)
        arrived()
        void answered.then(() => res.end('stored'))
      })
    })
    const balancer = new Balancer({ endpoints: backends.map((s) => s.url), clock, hedge: { delay: 50 } })
    open.push(balancer)
    let hedges = 0
    balancer.on('hedge', () => hedges++)
    const { body, text } = slowBody('h', 4)
    const sent = send(balancer, body)
    await reached
    // Far past the hedge delay on keel's clock: a hedge would have gone out now.
    await clock.advance(1_000)
    answer()
    expect(await sent).toBe('stored')
    expect(hedges).toBe(0)
    expect(bodies).toEqual([text])
  })

  it('is replayed whole after a refused connection, even while a read was pending', async () => {
    const dead = await closedPort()
    let arrived: (() => void) | undefined
    const [live] = await servers(1, (req, res) => {
      arrived?.()
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => res.end(Buffer.concat(chunks)))
    })
    for (let i = 0; i < 10; i++) {
      // The refused endpoint is the primary: every call's first attempt reads a chunk, asks for the
      // next (held until the retry reached the live server) and fails with that read pending.
      const balancer = new Balancer({ endpoints: [`http://127.0.0.1:${dead}`, { url: live!.url, priority: 1 }] })
      open.push(balancer)
      const first = new Promise<AttemptEvent>((resolve) => balancer.once('attempt', resolve))
      const gate = new Promise<void>((resolve) => (arrived = resolve))
      const { body, text } = slowBody(String(i), 20, gate)
      expect(await send(balancer, body)).toBe(text)
      expect(await first).toMatchObject({ verdict: 'not-sent', retried: true })
    }
    expect(live!.requests).toHaveLength(10)
  })
})
