// Small answers to idempotent requests are held until their body has arrived whole
// (src/adapters/http/whole-body.ts), so a reset or a stall in the middle of such a body is an
// attempt failure keel retries on another replica; larger bodies still stream at once.

import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request, fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import type { Balancer } from '../../src/index.ts'
import { BalancerDispatcher, createFetch } from '../helpers/adapters.ts'
import { adapterHarness } from '../helpers/harness.ts'

const { servers, observe } = adapterHarness()

const BODY = 'x'.repeat(1_000)

/** Declares 1,000 bytes, sends 500, then resets the connection. */
const resetMidBody = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-length': String(BODY.length) })
  res.write(BODY.slice(0, 500), () => setImmediate(() => res.socket?.resetAndDestroy()))
}
/** Declares 1,000 bytes, sends 500, then goes silent. */
const stallMidBody = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-length': String(BODY.length) })
  res.write(BODY.slice(0, 500))
}

type Get = (balancer: Balancer<unknown>) => () => Promise<string>
const ADAPTERS: [string, Get][] = [
  [
    'createFetch (undici fetch)',
    (b) => {
      const fetch = createFetch(b, { bodyTimeout: 300, fetch: undiciFetch as never })
      return async () => (await fetch('/x')).text()
    },
  ],
  [
    "createFetch (Node's global fetch)",
    (b) => {
      const fetch = createFetch(b, { bodyTimeout: 300, fetch: globalThis.fetch })
      return async () => (await fetch('/x')).text()
    },
  ],
  [
    'BalancerDispatcher',
    (b) => {
      const dispatcher = new BalancerDispatcher(b, { bodyTimeout: 300 })
      return async () => (await request('http://svc/x', { dispatcher })).body.text()
    },
  ],
]

describe('a small body that fails half-way is retried, not handed over', () => {
  for (const [adapter, make] of ADAPTERS) {
    for (const [what, handler] of [
      ['reset', resetMidBody],
      ['stalled', stallMidBody],
    ] as const) {
      it(`${adapter}: a ${what} body reaches the caller whole from another replica`, async () => {
        const [bad, good] = await servers(2, (_req, res) => res.end(BODY))
        bad!.handle(handler)
        const { balancer, attempts } = observe([bad!.url, good!.url], { picker: 'round-robin' })
        const get = make(balancer)
        // Round-robin: the first GET starts on the broken replica (a stall costs `bodyTimeout`).
        const bodies = [await get(), await get()]
        expect(bodies).toEqual([BODY, BODY])
        const onBad = attempts.filter((a) => a.endpoint.port === bad!.port)
        expect(onBad.length).toBeGreaterThan(0)
        expect(onBad.map((a) => [a.verdict, a.retried])).toEqual(onBad.map(() => ['endpoint-failure', true]))
      })
    }
  }
})

/** Resolves when undici (the package's or Node's own) has parsed the next response head. */
function nextResponseHead(): Promise<void> {
  return new Promise((resolve) => {
    const seen = () => {
      diagnostics.unsubscribe('undici:request:headers', seen)
      resolve()
    }
    diagnostics.subscribe('undici:request:headers', seen)
  })
}

describe('a small body is handed over once it has arrived whole', () => {
  for (const [adapter] of ADAPTERS) {
    it(`${adapter}: the caller has the response only after its last byte`, async () => {
      let finish: (() => void) | undefined
      const [server] = await servers(1, (_req, res) => {
        res.writeHead(200, { 'content-length': String(BODY.length) })
        res.write(BODY.slice(0, 500))
        finish = () => res.end(BODY.slice(500))
      })
      const { balancer } = observe([server!.url])
      const head = nextResponseHead()
      let handedOver = false
      let body: Promise<string>
      if (adapter === 'BalancerDispatcher') {
        const dispatcher = new BalancerDispatcher(balancer)
        body = request('http://svc/x', { dispatcher }).then((res) => {
          handedOver = true
          return res.body.text()
        })
      } else {
        const fetch = createFetch(balancer, {
          fetch: adapter.includes('global') ? globalThis.fetch : (undiciFetch as never),
        })
        body = fetch('/x').then((res) => {
          handedOver = true
          return res.text()
        })
      }
      await head
      // Handed over at its head, the response would reach the caller within these turns.
      for (let turn = 0; turn < 5; turn++) await new Promise(setImmediate)
      expect(handedOver).toBe(false)
      finish!()
      expect(await body).toBe(BODY)
    })
  }
})

describe('a body over 64 KiB is handed over as it arrives', () => {
  for (const [adapter] of ADAPTERS) {
    it(`${adapter}: the caller has the response before its body ends`, async () => {
      const BIG = 100 * 1024
      let finish: (() => void) | undefined
      const [server] = await servers(1, (_req, res) => {
        res.writeHead(200, { 'content-length': String(BIG) })
        res.write('y'.repeat(1_024))
        // The rest only once the caller has the response: a held response would never arrive.
        finish = () => res.end('y'.repeat(BIG - 1_024))
      })
      const { balancer } = observe([server!.url])
      const adapterName = adapter
      let body: Promise<string>
      if (adapterName === 'BalancerDispatcher') {
        const dispatcher = new BalancerDispatcher(balancer)
        const res = await request('http://svc/x', { dispatcher })
        finish!()
        body = res.body.text()
      } else {
        const fetch = createFetch(balancer, {
          fetch: adapterName.includes('global') ? globalThis.fetch : (undiciFetch as never),
        })
        const res = await fetch('/x')
        finish!()
        body = res.text()
      }
      expect((await body).length).toBe(BIG)
    })
  }
})

describe('a body of exactly 64 KiB is held, then handed over whole', () => {
  for (const [adapter, make] of ADAPTERS) {
    // The last held chunk fills undici fetch's body stream to its 64 KiB high-water mark, so fetch
    // pauses the exchange's controller as the held body is replayed: the replay must pass it on.
    it(`${adapter}: the caller reads all 65,536 bytes`, async () => {
      const LIMIT = 64 * 1024
      const [server] = await servers(1, (_req, res) => {
        res.writeHead(200, { 'content-length': String(LIMIT) })
        for (let sent = 0; sent < LIMIT; sent += 4_096) res.write('z'.repeat(4_096))
        res.end()
      })
      const { balancer, attempts } = observe([server!.url])
      const body = await make(balancer)()
      expect(body.length).toBe(LIMIT)
      expect(attempts.map((a) => a.verdict)).toEqual(['success'])
    })
  }
})
