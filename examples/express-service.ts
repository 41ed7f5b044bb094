// An Express service that calls another service through keel. The "orders" service (Express 5)
// answers GET /orders/:id by fetching the order's user from the "users" service, which runs as
// three local replicas; one replica is stopped half-way and no order request fails.
// Run: npm run build && node examples/express-service.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  )
}

// The users service: three replicas of a tiny JSON API.
const userReplicas = await Promise.all(
  ['u1', 'u2', 'u3'].map(async (name) => {
    const server = createServer((req, res) => {
      const id = req.url!.split('/').pop()
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ id, name: `user ${id}`, servedBy: name }))
    })
    return { server, url: await listen(server) }
  }),
)

// The orders service: one balancer and one balanced fetch for the users service, made at start-up
// and shared by every request handler.
const users = new Balancer({ endpoints: userReplicas.map((r) => r.url) })
const usersFetch = createFetch(users, { serviceUrl: 'http://users.internal' })

const app = express()
app.get('/orders/:id', async (req, res) => {
  const userId = Number(req.params.id) % 50
  // The caller's disconnect aborts the call to the users service too.
  const abort = new AbortController()
  res.on('close', () => abort.abort())
  const upstream = await usersFetch(`http://users.internal/users/${userId}`, { signal: abort.signal })
  if (!upstream.ok) {
    res.status(502).json({ error: `users answered ${upstream.status}` })
    return
  }
  const user = (await upstream.json()) as { name: string; servedBy: string }
  res.json({ order: req.params.id, user: user.name, servedBy: user.servedBy })
})
const ordersServer = createServer(app)
const orders = await listen(ordersServer)

// Clients call the orders service, 8 at a time; half-way, one users replica goes away.
const statuses = new Map<number, number>()
const servedBy = new Map<string, number>()
for (let batch = 0; batch < 25; batch++) {
  if (batch === 12) {
    userReplicas[0]!.server.close()
    userReplicas[0]!.server.closeAllConnections()
  }
  await Promise.all(
    Array.from({ length: 8 }, async (_, j) => {
      const res = await fetch(`${orders}/orders/${batch * 8 + j}`)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      const body = (await res.json()) as { servedBy?: string }
      if (body.servedBy) servedBy.set(body.servedBy, (servedBy.get(body.servedBy) ?? 0) + 1)
    }),
  )
}
console.log('orders statuses:', Object.fromEntries(statuses))
console.log('user lookups served by:', Object.fromEntries([...servedBy].sort()))

// Shutdown: stop taking requests, then let the balancer finish its calls and close its sockets.
ordersServer.close()
ordersServer.closeAllConnections()
await users.close()
for (const r of userReplicas) {
  r.server.closeAllConnections()
  r.server.close()
}
if (statuses.get(200) !== 200) process.exit(1)
