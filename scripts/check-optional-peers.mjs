// Checks the built package against its optional peer dependencies: `keel` loads without
// @grpc/grpc-js installed (import and require), `keel/grpc` fails then with an error that names
// it, and loads and works once it is installed; `keel/fetch` works without undici over plain
// http: (even with a servername, as DNS discovery sets), and where it needs undici (TLS naming)
// fails with KEEL_MISSING_PEER without blaming the endpoint. Run after `npm run build`.
//
// The package is installed into a temporary node_modules as a copy of `package.json` and `dist`
// (a symlink would resolve imports from this repository's node_modules, where grpc-js is), with
// its runtime dependencies linked from this repository.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const dir = mkdtempSync(join(tmpdir(), 'keel-peers-'))
const modules = join(dir, 'node_modules')

function link(name) {
  const target = join(modules, name)
  mkdirSync(dirname(target), { recursive: true })
  symlinkSync(join(root, 'node_modules', name), target, 'dir')
}

/** Runs `source` as an ES module (or CommonJS) in the temporary project; returns its output. */
function run(name, source, type = 'mjs') {
  const file = join(dir, `${name}.${type}`)
  writeFileSync(file, source)
  const result = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  if (result.status !== 0) {
    console.error(`FAIL ${name}\n${result.stdout}\n${result.stderr}`)
    process.exitCode = 1
    return
  }
  console.log(`ok   ${name}: ${result.stdout.trim()}`)
}

const withoutGrpc = `
import assert from 'node:assert/strict'
const keel = await import('keel')
const balancer = new keel.Balancer({ endpoints: ['127.0.0.1:1'] })
assert.equal(keel.Balancer.isBalancer(balancer), true)
await balancer.close()
const error = await import('keel/grpc').then(() => undefined, (e) => e)
assert.ok(error, 'keel/grpc loaded without @grpc/grpc-js')
assert.equal(error.code, 'ERR_MODULE_NOT_FOUND')
assert.match(error.message, /@grpc\\/grpc-js/)
console.log('keel loads; keel/grpc: ' + error.message.split('\\n')[0])
`

const withoutGrpcRequire = `
const assert = require('node:assert/strict')
const keel = require('keel')
assert.equal(typeof keel.Balancer, 'function')
let error
try { require('keel/grpc') } catch (e) { error = e }
assert.ok(error, 'keel/grpc required without @grpc/grpc-js')
assert.equal(error.code, 'MODULE_NOT_FOUND')
assert.match(error.message, /@grpc\\/grpc-js/)
console.log('keel requires; keel/grpc: ' + error.message.split('\\n')[0])
`

/** The same checks through `require` (CJS build) and `import` (ESM build). */
const fetchWithoutUndici = (load) => `
${load}
const server = createServer((req, res) => res.end('hello ' + req.url))
const main = async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const plain = new Balancer({ endpoints: [{ url: 'http://127.0.0.1:' + server.address().port, servername: 'users.internal' }] })
  assert.equal(await (await createFetch(plain)('/u/1')).text(), 'hello /u/1')
  await plain.close()
  server.close()
  const tls = new Balancer({ endpoints: [{ url: 'https://127.0.0.1:1', servername: 'users.internal' }] })
  const error = await createFetch(tls)('/u/1').then(() => undefined, (e) => e)
  assert.equal(error?.code, 'KEEL_MISSING_PEER', String(error))
  assert.equal(error.peer, 'undici')
  const [endpoint] = tls.snapshot().endpoints
  assert.deepEqual([endpoint.state, endpoint.failures], ['active', 0])
  await tls.close()
  console.log('http: needs no undici; https: naming → ' + error.message)
}
main().catch((e) => { console.error(e); process.exit(1) })
`
const fetchWithoutUndiciRequire = fetchWithoutUndici(`
const assert = require('node:assert/strict')
const { createServer } = require('node:http')
const { Balancer } = require('keel')
const { createFetch } = require('keel/fetch')`)
const fetchWithoutUndiciImport = fetchWithoutUndici(`
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'`)

const withGrpc = `
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import grpc from '@grpc/grpc-js'
const { Balancer } = await import('keel')
const { createGrpcClient, unary } = await import('keel/grpc')
const cjs = createRequire(import.meta.url)('keel')
const service = {
  Get: {
    path: '/peers.Service/Get', requestStream: false, responseStream: false,
    requestSerialize: (v) => Buffer.from(JSON.stringify(v)), requestDeserialize: (b) => JSON.parse(b.toString()),
    responseSerialize: (v) => Buffer.from(JSON.stringify(v)), responseDeserialize: (b) => JSON.parse(b.toString()),
  },
}
const server = new grpc.Server()
server.addService(service, { Get: (call, callback) => callback(null, { echo: call.request.n }) })
const port = await new Promise((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))))
const Client = grpc.makeGenericClientConstructor(service, 'peers.Service')
// A balancer from either build works with the adapter (the brand crosses builds).
for (const B of [Balancer, cjs.Balancer]) {
  const balancer = new B({ endpoints: ['127.0.0.1:' + port] })
  const client = createGrpcClient(balancer, Client, grpc.credentials.createInsecure())
  assert.deepEqual(await unary(client.Get)({ n: 7 }), { echo: 7 })
  await balancer.close()
}
server.forceShutdown()
console.log('keel/grpc makes calls (ESM and CJS balancers)')
`

const httpWithoutPeers = `
import assert from 'node:assert/strict'
import http from 'node:http'
import { createRequire } from 'node:module'
const { Balancer } = await import('keel')
const { BalancerAgent } = await import('keel/http')
const cjs = createRequire(import.meta.url)('keel/http')
assert.equal(typeof cjs.BalancerAgent, 'function')
const server = http.createServer((req, res) => res.end(req.headers.host))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const balancer = new Balancer({ endpoints: ['127.0.0.1:' + server.address().port] })
const agent = new BalancerAgent(balancer)
const host = await new Promise((resolve, reject) =>
  http.get('http://users.internal/', { agent }, (res) => {
    let body = ''
    res.on('data', (c) => (body += c))
    res.on('end', () => resolve(body))
  }).on('error', reject))
assert.equal(host, 'users.internal')
agent.destroy()
await balancer.close()
server.close()
console.log('keel/http loads (import and require) and sends without undici, axios or grpc-js')
`

const withoutIoredis = `
import assert from 'node:assert/strict'
const { Balancer } = await import('keel')
const net = await import('keel/net')
assert.equal(typeof net.connect, 'function')
assert.equal(typeof new Balancer({ endpoints: ['tcp://127.0.0.1:1'] }).close, 'function')
const error = await import('keel/ioredis').then(() => undefined, (e) => e)
assert.ok(error, 'keel/ioredis loaded without ioredis')
assert.equal(error.code, 'ERR_MODULE_NOT_FOUND')
assert.match(error.message, /ioredis/)
const shared = await import('keel/redis').then(() => undefined, (e) => e)
assert.ok(shared, 'keel/redis loaded without ioredis')
assert.equal(shared.code, 'ERR_MODULE_NOT_FOUND')
assert.match(shared.message, /ioredis/)
console.log('keel/net loads without pg or ioredis; keel/ioredis: ' + error.message.split('\\n')[0])
`

// keel/prometheus and keel/otel: the same contract with prom-client and @opentelemetry/api.
const withoutObservability = `
import assert from 'node:assert/strict'
for (const [entry, peer] of [['keel/prometheus', /prom-client/], ['keel/otel', /@opentelemetry\\/api/]]) {
  const error = await import(entry).then(() => undefined, (e) => e)
  assert.ok(error, entry + ' loaded without its peer')
  assert.equal(error.code, 'ERR_MODULE_NOT_FOUND')
  assert.match(error.message, peer)
}
console.log('keel/prometheus and keel/otel name their missing peers')
`

const withObservability = `
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
const { Balancer } = await import('keel')
const { prometheusMetrics } = await import('keel/prometheus')
const { instrument } = await import('keel/otel')
const balancer = new Balancer({ endpoints: ['127.0.0.1:1'] })
const registry = new Registry()
const metrics = prometheusMetrics(balancer, { name: 'peers', registry })
const traced = instrument(balancer, { name: 'peers' })
await balancer.call(() => 'ok')
assert.match(await registry.metrics(), /keel_attempts_total\\{balancer="peers",endpoint="tcp:\\/\\/127.0.0.1:1",verdict="success"\\} 1/)
traced.close()
metrics.close()
await balancer.close()
console.log('keel/prometheus and keel/otel work once their peers are installed')
`

try {
  const target = join(modules, 'keel')
  mkdirSync(target, { recursive: true })
  cpSync(join(root, 'package.json'), join(target, 'package.json'))
  cpSync(join(root, 'dist'), join(target, 'dist'), { recursive: true })
  for (const name of Object.keys(pkg.dependencies ?? {})) link(name)
  run('without-grpc-import', withoutGrpc)
  run('without-grpc-require', withoutGrpcRequire, 'cjs')
  run('fetch-without-undici-require', fetchWithoutUndiciRequire, 'cjs')
  run('fetch-without-undici-import', fetchWithoutUndiciImport)
  run('http-without-peers', httpWithoutPeers)
  run('without-ioredis', withoutIoredis)
  run('without-observability-peers', withoutObservability)
  link('@grpc/grpc-js')
  run('with-grpc', withGrpc)
  link('prom-client')
  link('@opentelemetry/api')
  run('with-observability-peers', withObservability)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
