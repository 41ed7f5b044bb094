// Observability: three local replicas, one of them down. keel/prometheus counts what happens, a
// diagnostics-channel subscriber sees every attempt, and the retry event says why it retried.
// Run: npm run build && node examples/observability.ts
import diagnostics_channel from 'node:diagnostics_channel'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'
import { prometheusMetrics } from 'keel/prometheus'
import { Registry } from 'prom-client'

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const live = [createServer((_req, res) => res.end('ok')), createServer((_req, res) => res.end('ok'))]
const urls = await Promise.all(live.map(listen))
// A replica that is down: a port nothing listens on any more.
const gone = createServer()
const dead = await listen(gone)
await new Promise<void>((resolve) => gone.close(() => resolve()))

const users = new Balancer({ endpoints: [dead, ...urls], picker: 'round-robin' })
const registry = new Registry()
const metrics = prometheusMetrics(users, { name: 'users', registry })
const fetch = createFetch(users)

users.on('retry', ({ callId, attempt, reason }) =>
  console.log(`call ${callId} retries (attempt ${attempt}): ${reason}`),
)
let attempts = 0
const onAttempt = () => attempts++
diagnostics_channel.subscribe('keel:attempt:end', onAttempt)

for (let i = 0; i < 6; i++) await (await fetch('/users/42')).text()

const scrape = await registry.metrics()
const wanted = /^keel_(calls_total|attempts_total|retries_total|ejections_total|endpoints)\{/
console.log(
  scrape
    .split('\n')
    .filter((line) => wanted.test(line) && !line.endsWith(' 0'))
    .join('\n'),
)
if (!scrape.includes(`keel_ejections_total{balancer="users",endpoint="${dead}",detector="outlier"} 1`))
  throw new Error('the dead replica was not ejected')
if (attempts !== 7) throw new Error(`the channel saw ${attempts} attempts, not 7`)
console.log(`the diagnostics channel saw ${attempts} attempts`)

diagnostics_channel.unsubscribe('keel:attempt:end', onAttempt)
metrics.close()
await users.close()
for (const server of live) server.close()
