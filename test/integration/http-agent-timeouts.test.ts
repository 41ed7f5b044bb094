import { once } from 'node:events'
import http from 'node:http'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { BalancerAgent } from '../../src/adapters/http-agent/index.ts'
import { Balancer } from '../../src/index.ts'
import { agentHarness } from '../helpers/agent-harness.ts'
import { ManualClock } from '../helpers/clock.ts'
import { startServer } from '../helpers/servers.ts'

// The agent's `timeout` on keel's clock: free keep-alive sockets closed after it (or the server's
// shorter Keep-Alive hint), connects bounded by it; no node:http socket timer per request.

const { servers, cleanups, balanced } = agentHarness()

interface Sent {
  readonly text: string
  readonly socket: Socket
  /** The socket went back to its agent's free list. */
  readonly freed: Promise<unknown>
}

function send(agent: http.Agent, options: http.RequestOptions = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.get('http://users.internal/', { agent, ...options }, (res) => {
      const socket = res.socket
      const freed = once(socket, 'free')
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ text, socket, freed }))
    })
    req.on('error', reject)
  })
}

/**
 * One request through a fresh agent (`timeout: agentTimeout`, keel's clock a `ManualClock`) to a
 * server with `keepAliveTimeout`; resolves once the request's socket is back on the free list.
 */
async function oneIdle(
  keepAliveTimeout: number,
  agentTimeout: number,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ clock: ManualClock; agent: http.Agent; sent: Sent }> {
  const clock = new ManualClock()
  const backend = await startServer(handler, 0, { keepAliveTimeout })
  cleanups.push(() => backend.close())
  const { agent } = balanced([backend.url], { clock }, { timeout: agentTimeout })
  const sent = await send(agent)
  await sent.freed
  return { clock, agent, sent }
}

/** A TCP server that accepts connections and never says a word: a TLS handshake to it never ends. */
async function silentServer(): Promise<{ port: number; connected: Promise<unknown> }> {
  const held: Socket[] = []
  const server = createServer((socket) => held.push(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(() => {
    for (const socket of held) socket.destroy()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, connected: once(server, 'connection') }
}

describe('BalancerAgent timeout', () => {
  it('closes a keep-alive socket idle for `timeout` on keel’s clock, restarting when it is reused', async () => {
    const clock = new ManualClock()
    const [backend] = await servers(1)
    const { agent } = balanced([backend!.url], { clock })
    const first = await send(agent)
    expect(first.text).toBe('ok')
    await first.freed
    // No node:http socket timer: that one would be re-armed on every request.
    expect(first.socket.timeout).toBe(0)
    await clock.advance(4_999)
    expect(first.socket.destroyed).toBe(false)
    const second = await send(agent)
    expect(second.socket).toBe(first.socket)
    await second.freed
    await clock.advance(4_999)
    expect(first.socket.destroyed).toBe(false)
    await clock.advance(1)
    expect(first.socket.destroyed).toBe(true)
    expect(backend!.connections).toBe(1)
  })

  it('closes it sooner when the server’s Keep-Alive hint is shorter, 1 s before the server would', async () => {
    const { clock, sent } = await oneIdle(3_000, 60_000)
    await clock.advance(1_999)
    expect(sent.socket.destroyed).toBe(false)
    await clock.advance(1)
    expect(sent.socket.destroyed).toBe(true)
  })

  it('keeps idle sockets with `timeout: 0` until the server closes them', async () => {
    // keepAliveTimeout 0: the server sends no Keep-Alive hint and never closes an idle connection.
    const { clock, sent } = await oneIdle(0, 0)
    await clock.advance(600_000)
    expect(sent.socket.destroyed).toBe(false)
  })

  it('drops a hint’s deadline once a later response on the socket has none', async () => {
    let hinted = true
    const {
      clock,
      agent,
      sent: first,
    } = await oneIdle(0, 0, (_req, res) => {
      if (hinted) res.setHeader('Keep-Alive', 'timeout=3')
      res.end('ok')
    })
    hinted = false
    await clock.advance(1_000)
    const second = await send(agent)
    expect(second.socket).toBe(first.socket)
    await second.freed
    // The sweep armed for the first response's deadline (2 s) finds no deadline left.
    await clock.advance(600_000)
    expect(second.socket.destroyed).toBe(false)
  })

  it('re-sends a request whose connect outlasts `timeout` (or the request’s own) as not-sent', async () => {
    for (const [agentTimeout, requestTimeout, limit] of [
      [undefined, undefined, 5_000],
      [800, undefined, 800],
      [800, 300, 300],
    ] as const) {
      const clock = new ManualClock()
      const silent = await silentServer()
      const [backend] = await servers(1)
      // The silent endpoint speaks TLS (its handshake never completes); the answering one is a backup.
      const endpoints = [`https://127.0.0.1:${silent.port}`, { url: backend!.url, priority: 1 }]
      const { agent, attempts, settled } = balanced(
        endpoints,
        { clock },
        agentTimeout === undefined ? {} : { timeout: agentTimeout },
      )
      const pending = send(agent, requestTimeout === undefined ? {} : { timeout: requestTimeout })
      await silent.connected
      await clock.advance(limit - 1)
      expect(attempts).toEqual([])
      await clock.advance(1)
      expect(attempts.map((a) => [a.verdict, a.durationMs])).toEqual([['not-sent', limit]])
      expect((attempts[0]!.error as { code?: string }).code).toBe('ETIMEDOUT')
      // The retry's backoff (at most 250 ms) runs on the same clock.
      await clock.advance(250)
      expect((await pending).text).toBe('ok')
      await settled(2)
      expect(attempts.map((a) => a.verdict)).toEqual(['not-sent', 'success'])
    }
  })

  it('validates `timeout` with a message that names it', () => {
    const balancer = new Balancer({ endpoints: ['127.0.0.1:1'] })
    cleanups.push(() => balancer.close())
    expect(() => new BalancerAgent(balancer, { timeout: -1 })).toThrow(
      'Expected `timeout` to be a non-negative number, got -1',
    )
    expect(() => new BalancerAgent(balancer, { timeout: '5s' as never })).toThrow(
      'Expected `timeout` to be a non-negative number, got',
    )
  })
})
