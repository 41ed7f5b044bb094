// Loads the built package both ways and makes a real call through each build.
import { createServer } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const esm = await import('../dist/index.js')
const cjs = require('../dist/index.cjs')

const server = createServer((req, res) => res.end(`hello from ${req.url}`))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${server.address().port}`

for (const [name, keel] of [
  ['import', esm],
  ['require', cjs],
]) {
  const balancer = new keel.Balancer({ endpoints: [base] })
  const text = await balancer.call(async (endpoint, attempt) => {
    const res = await fetch(endpoint.resolve('/smoke'), { signal: attempt.signal })
    return res.text()
  })
  if (text !== 'hello from /smoke') throw new Error(`${name}: unexpected answer ${text}`)
  if (!keel.Balancer.isBalancer(balancer)) throw new Error(`${name}: brand missing`)
  await balancer.close()
  console.log(`${name}: ok (${text})`)
}
// The brand works across the two builds: adapters never use instanceof.
if (!esm.Balancer.isBalancer(new cjs.Balancer({ endpoints: [base] }))) throw new Error('brand does not cross builds')

// keel/prometheus and keel/otel from both builds, with balancers from either build.
const { Registry } = require('prom-client')
for (const [name, prometheus, otel, keel] of [
  ['import', await import('../dist/prometheus.js'), await import('../dist/otel.js'), esm],
  ['require', require('../dist/prometheus.cjs'), require('../dist/otel.cjs'), cjs],
]) {
  const balancer = new keel.Balancer({ endpoints: [base] })
  const registry = new Registry()
  const metrics = prometheus.prometheusMetrics(balancer, { name: 'smoke', registry })
  const traced = otel.instrument(balancer, { name: 'smoke' })
  await balancer.call(async (endpoint, attempt) =>
    (await fetch(endpoint.resolve('/m'), { signal: attempt.signal })).text(),
  )
  const text = await registry.metrics()
  const line = `keel_attempts_total{balancer="smoke",endpoint="${base}",verdict="success"} 1`
  if (!text.includes(line)) throw new Error(`${name}: keel/prometheus did not count the attempt:\n${text}`)
  traced.close()
  metrics.close()
  await balancer.close()
  console.log(`${name}: keel/prometheus and keel/otel ok`)
}
server.close()

// keel/net from both builds: a balanced TCP connection to a local echo server.
const { createServer: createTcpServer } = await import('node:net')
const echo = createTcpServer((socket) => socket.pipe(socket))
await new Promise((resolve) => echo.listen(0, '127.0.0.1', resolve))
for (const [name, net, keel] of [
  ['import', await import('../dist/net.js'), esm],
  ['require', require('../dist/net.cjs'), cjs],
]) {
  const balancer = new keel.Balancer({ endpoints: [`tcp://127.0.0.1:${echo.address().port}`] })
  const socket = await net.connect(balancer)
  socket.end('net')
  let text = ''
  for await (const chunk of socket) text += chunk
  if (text !== 'net') throw new Error(`${name}: keel/net echoed ${text}`)
  await balancer.close()
  console.log(`${name}: keel/net ok`)
}
echo.close()

// keel/redis from both builds: options validated, the entry loads with ioredis installed.
for (const [name, redis] of [
  ['import', await import('../dist/redis.js')],
  ['require', require('../dist/redis.cjs')],
]) {
  let error
  try {
    redis.redisSharedHealth({ url: 'redis://127.0.0.1:1', service: 'smoke', quorum: 1 })
  } catch (e) {
    error = e
  }
  if (!error || !/quorum/.test(error.message)) throw new Error(`${name}: keel/redis did not validate quorum`)
  console.log(`${name}: keel/redis ok`)
}
