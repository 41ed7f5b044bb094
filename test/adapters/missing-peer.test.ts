import { execFileSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadPeer, MissingPeerError } from '../../src/adapters/http/optional-peer.ts'
import { classifyError } from '../../src/classify/classify.ts'
import { isKeelError } from '../../src/index.ts'

const wallNow = () => 0
/** What Node throws for a package that is not installed: `import()` and `require()`. */
const notFound = (code: string, message: string) => Object.assign(new Error(message), { code })
const esmMissing = notFound('ERR_MODULE_NOT_FOUND', "Cannot find package 'undici' imported from /app/dist/fetch.js")
const cjsMissing = notFound('MODULE_NOT_FOUND', "Cannot find module 'undici'\nRequire stack:\n- /app/dist/fetch.cjs")

describe('loadPeer: a missing optional peer', () => {
  it.each([
    ['import()', esmMissing],
    ['require()', cjsMissing],
  ])('becomes a MissingPeerError naming the package (%s)', async (_, error) => {
    const thrown = await loadPeer('undici', 'createFetch to https://10.0.0.1:8443 (TLS name)', () =>
      Promise.reject(error),
    ).catch((e: unknown) => e)
    expect(thrown).toBeInstanceOf(MissingPeerError)
    expect(isKeelError(thrown)).toBe(true)
    expect(thrown).toMatchObject({ code: 'KEEL_MISSING_PEER', peer: 'undici' })
    expect((thrown as Error).cause).toBe(error)
    expect((thrown as Error).message).toBe(
      "createFetch to https://10.0.0.1:8443 (TLS name) needs the optional peer dependency 'undici': npm install undici",
    )
  })

  it('keeps the error of a peer that is installed but fails to load, or of another missing module', async () => {
    const broken = new SyntaxError('Unexpected token')
    const other = notFound('ERR_MODULE_NOT_FOUND', "Cannot find package 'undici-types' imported from /app/x.js")
    expect(await loadPeer('undici', 'x', () => Promise.reject(broken)).catch((e: unknown) => e)).toBe(broken)
    expect(await loadPeer('undici', 'x', () => Promise.reject(other)).catch((e: unknown) => e)).toBe(other)
  })

  it('resolves with the module when it is there', async () => {
    const module = { Pool: class {} }
    expect(await loadPeer('undici', 'x', () => Promise.resolve(module))).toBe(module)
  })

  it('ends its attempt as cancelled: never retried, never charged to an endpoint', () => {
    expect(classifyError(new MissingPeerError('undici', 'x', esmMissing), wallNow)).toBe('cancelled')
  })
})

// A fresh Node process in which undici cannot be resolved (a resolve hook throws what Node throws
// for a package that is not installed) runs `createFetch` over two endpoints that carry a
// servername, as DNS discovery gives every endpoint: a plain http: one, and an https: one.
const PROBE = `
import { registerHooks } from 'node:module'
import { createServer } from 'node:http'
const [index, fetchEntry] = process.argv.slice(-2)
const loaded = []
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'undici') {
      loaded.push(specifier)
      throw Object.assign(new Error("Cannot find package 'undici' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' })
    }
    return next(specifier, context)
  },
})
const { Balancer } = await import(index)
const { createFetch } = await import(fetchEntry)
const server = createServer((req, res) => res.end('hello ' + req.url))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))

const plain = new Balancer({ endpoints: [{ url: 'http://127.0.0.1:' + server.address().port, servername: 'users.internal' }] })
const text = await (await createFetch(plain)('/users/1')).text()
await plain.close()

const tls = new Balancer({ endpoints: [{ url: 'https://127.0.0.1:1', servername: 'users.internal' }] })
const retries = []
tls.on('retry', (e) => retries.push(e))
const error = await createFetch(tls)('/users/1').then(() => undefined, (e) => e)
const [endpoint] = tls.snapshot().endpoints
await tls.close()
server.close()
process.stdout.write(JSON.stringify({
  text, loaded, retries: retries.length,
  error: { name: error?.name, code: error?.code, peer: error?.peer, message: error?.message },
  endpoint: { state: endpoint.state, failures: endpoint.failures, requests: endpoint.requests },
}))
`

describe('createFetch without undici installed', () => {
  const url = (path: string) => pathToFileURL(new URL(`../../${path}`, import.meta.url).pathname).href
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE, url('src/index.ts'), url('src/adapters/fetch/index.ts')],
    { encoding: 'utf8' },
  )
  const seen = JSON.parse(out) as {
    text: string
    loaded: string[]
    retries: number
    error: Record<string, string>
    endpoint: { state: string; failures: number; requests: number }
  }

  it('calls a plain http: endpoint that has a servername without loading undici', () => {
    expect(seen.text).toBe('hello /users/1')
  })

  it('fails an https: endpoint with a servername with KEEL_MISSING_PEER, and does not blame the endpoint', () => {
    expect(seen.loaded).toEqual(['undici'])
    expect(seen.error).toEqual({
      name: 'MissingPeerError',
      code: 'KEEL_MISSING_PEER',
      peer: 'undici',
      message:
        "keel/fetch with `connect` options or an endpoint `servername` needs the optional peer dependency 'undici': npm install undici",
    })
    expect(seen.retries).toBe(0)
    expect(seen.endpoint).toEqual({ state: 'active', failures: 0, requests: 0 })
  })
})
