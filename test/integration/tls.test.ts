import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Balancer, type BalancerOptions } from '../../src/index.ts'
import { BalancerDispatcher, createFetch } from '../helpers/adapters.ts'
import { makeTestPki, type TestPki } from '../helpers/tls.ts'

interface Seen {
  servername: string | false | null
  host: string | undefined
  url: string | undefined
}

let pki: TestPki
let server: Server
let port: number
const seen: Seen[] = []
const balancers: Balancer<unknown>[] = []

beforeAll(async () => {
  // A CA and a certificate for `localhost` made for this run; the server listens on an IP only.
  pki = makeTestPki(['localhost'])
  server = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    seen.push({ servername: (req.socket as TLSSocket).servername, host: req.headers.host, url: req.url })
    res.end('secure')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await Promise.all(balancers.map((b) => b.close()))
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function balancer(servername: string, where: 'endpoint' | 'balancer' = 'endpoint'): Balancer<unknown> {
  const url = `https://127.0.0.1:${port}/tls`
  const options: BalancerOptions<never> =
    where === 'endpoint' ? { endpoints: [{ url, servername }] } : { endpoints: [url], servername }
  const b = new Balancer({ ...options, retry: false })
  balancers.push(b)
  return b
}

function codeOf(error: unknown): unknown {
  let e = error as { code?: unknown; cause?: unknown } | undefined
  while (e !== undefined && e.code === undefined) e = e.cause as typeof e
  return e?.code
}

describe('TLS by name', () => {
  it('BalancerDispatcher dials the IP and verifies the certificate for the servername', async () => {
    const dispatcher = new BalancerDispatcher(balancer('localhost'), { connect: { ca: pki.ca } })
    const before = seen.length
    const res = await request('https://users.internal/me', { dispatcher })
    expect(await res.body.text()).toBe('secure')
    expect(seen.slice(before)).toEqual([{ servername: 'localhost', host: `localhost:${port}`, url: '/tls/me' }])
  })

  it('BalancerDispatcher fails verification with a servername the certificate does not carry', async () => {
    const dispatcher = new BalancerDispatcher(balancer('wrong.example'), { connect: { ca: pki.ca } })
    const before = seen.length
    const error = await request('https://users.internal/me', { dispatcher }).catch((e: unknown) => e)
    expect(codeOf(error)).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    expect(seen.length).toBe(before)
  })

  it('createFetch dials the IP and verifies the certificate for the servername', async () => {
    const fetch = createFetch(balancer('localhost'), { connect: { ca: pki.ca } })
    const before = seen.length
    const res = await fetch('/me')
    expect(await res.text()).toBe('secure')
    expect(seen.slice(before)).toEqual([{ servername: 'localhost', host: `localhost:${port}`, url: '/tls/me' }])
  })

  it('createFetch fails verification with a servername the certificate does not carry', async () => {
    const fetch = createFetch(balancer('wrong.example'), { connect: { ca: pki.ca } })
    const before = seen.length
    const error = await fetch('/me').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(codeOf(error)).toBe('ERR_TLS_CERT_ALTNAME_INVALID')
    expect(seen.length).toBe(before)
  })

  it("takes the balancer's servername for endpoints that give none", async () => {
    const b = balancer('localhost', 'balancer')
    const dispatcher = new BalancerDispatcher(b, { connect: { ca: pki.ca } })
    const fetch = createFetch(b, { connect: { ca: pki.ca } })
    const before = seen.length
    await (await request('https://users.internal/a', { dispatcher })).body.text()
    await (await fetch('/b')).text()
    expect(seen.slice(before).map((s) => [s.servername, s.host])).toEqual([
      ['localhost', `localhost:${port}`],
      ['localhost', `localhost:${port}`],
    ])
  })

  it('rejects a certificate from an unknown CA', async () => {
    const dispatcher = new BalancerDispatcher(balancer('localhost'))
    const error = await request('https://users.internal/me', { dispatcher }).catch((e: unknown) => e)
    expect(codeOf(error)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  })
})
