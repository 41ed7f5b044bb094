// Balanced fetch: three local replicas of a "users" service, one of them failing every third
// request with a 503. Every call succeeds: keel retries the 503s on another replica.
// Run: npm run build && node examples/fetch.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'

async function replica(name: string, failEvery = 0): Promise<{ server: Server; url: string; served: () => number }> {
  let served = 0
  let seen = 0
  const server = createServer((req, res) => {
    if (failEvery > 0 && ++seen % failEvery === 0) {
      res.writeHead(503).end('try another replica')
      return
    }
    served++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ replica: name, path: req.url }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served }
}

const replicas = [await replica('a'), await replica('b', 3), await replica('c')]

// Each endpoint carries the service's path prefix; callers use paths or the logical URL.
const users = new Balancer({ endpoints: replicas.map((r) => `${r.url}/api`) })
const fetch = createFetch(users, { serviceUrl: 'http://users.internal/api' })

let retries = 0
users.on('retry', () => retries++)

const statuses = new Map<number, number>()
for (let i = 0; i < 60; i++) {
  const url = i % 2 === 0 ? `/users/${i}` : `http://users.internal/api/users/${i}`
  const res = await fetch(url)
  const body = (await res.json()) as { replica: string; path: string }
  if (!body.path.startsWith('/api/users/')) throw new Error(`prefix lost: ${body.path}`)
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
}

console.log('statuses:', Object.fromEntries(statuses))
console.log('served by a/b/c:', replicas.map((r) => r.served()).join('/'), `(503s retried: ${retries})`)
if (statuses.get(200) !== 60) throw new Error('a call failed')

await users.close()
for (const r of replicas) {
  r.server.closeAllConnections()
  r.server.close()
}
