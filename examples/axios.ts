// axios through keel: an axios instance whose adapter balances every request over three local
// replicas of a "users" service, one of which is broken (it answers every request with a 503).
// A plain POST that meets it fails with axios' own AxiosError; a POST with an Idempotency-Key
// and every GET are retried on another replica; the broken replica is soon ejected.
// Run: npm run build && node examples/axios.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import axios from 'axios'
import { Balancer } from 'keel'
import { axiosAdapter } from 'keel/axios'

async function replica(name: string, broken = false): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (broken) {
      res.writeHead(503).end('unavailable')
      return
    }
    if (req.url?.includes('/missing')) {
      res.writeHead(404).end('no such user')
      return
    }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ replica: name, method: req.method, path: req.url }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

const replicas = [await replica('a'), await replica('b', true), await replica('c')]

// The endpoints carry the replicas' path prefix (`/svc`); baseURL names the service and adds `/v1`.
const users = new Balancer({ endpoints: replicas.map((r) => `${r.url}/svc`), picker: 'round-robin' })
const api = axios.create({ baseURL: 'http://users.internal/v1', adapter: axiosAdapter(users), timeout: 2_000 })
let retries = 0
users.on('retry', () => retries++)

// Three plain POSTs, one per replica: the one that meets the broken replica is not retried.
const plain = await Promise.allSettled([1, 2, 3].map((i) => api.post('/orders', { item: i })))
const rejected = plain.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown)
const is503 = (e: unknown) => axios.isAxiosError(e) && e.response?.status === 503
console.log(
  `3 plain POSTs: ${3 - rejected.length} ok, ${rejected.filter(is503).length} rejected with the 503's AxiosError`,
)

// The same POSTs with an Idempotency-Key: keel may send them again, so none fails.
for (let i = 1; i <= 3; i++) await api.post('/orders', { item: i }, { headers: { 'Idempotency-Key': `order-${i}` } })
console.log(`3 POSTs with an Idempotency-Key: all ok (${retries} retried on another replica)`)

for (let i = 0; i < 30; i++) {
  const { data } = await api.get<{ path: string }>(`/users/${i}`, { params: { fields: 'name' } })
  if (data.path !== `/svc/v1/users/${i}?fields=name`) throw new Error(`unexpected path ${data.path}`)
}
const states = users.snapshot().endpoints.map((e) => e.state)
console.log(`30 GETs: all ok (${retries} retries in all); replica states: ${states.join(', ')}`)

// A 404 is the caller's error: axios' AxiosError, not retried, nothing held against the replica.
const before = retries
const missing = await api.get('/users/missing').catch((error: unknown) => error)
if (!axios.isAxiosError(missing) || missing.response?.status !== 404) throw new Error('expected a 404')
console.log(`GET /users/missing: AxiosError ${missing.response.status}, retried ${retries - before} times`)

await users.close()
for (const r of replicas) {
  r.server.closeAllConnections()
  r.server.close()
}
if (rejected.length !== 1 || !is503(rejected[0]) || !states.includes('ejected')) process.exit(1)
