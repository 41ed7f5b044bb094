// The "orders" service: Express, calling the users service's replicas through keel.
// Run: node server.ts   (REPLICAS and PORT override the defaults below)
import express from 'express'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'

const replicas = process.env.REPLICAS?.split(',') ?? [
  'http://127.0.0.1:3001',
  'http://127.0.0.1:3002',
  'http://127.0.0.1:3003',
]

// One balancer per upstream service, made once at start-up and shared by every request.
const users = new Balancer({ endpoints: replicas, timeout: 2_000 })
// A fetch that sends each request to a replica keel picks, and retries safe ones elsewhere.
const usersFetch = createFetch(users)

const app = express()

app.get('/orders/:id', async (req, res) => {
  const upstream = await usersFetch(`/users/${Number(req.params.id) % 100}`)
  if (!upstream.ok) {
    res.status(502).json({ error: `users answered ${upstream.status}` })
    return
  }
  const user = (await upstream.json()) as { name: string; servedBy: number }
  res.json({ order: req.params.id, user: user.name, servedBy: user.servedBy })
})

// What keel knows about each replica: state, latency estimate, requests, failures, ejections.
app.get('/debug/balancer', (_req, res) => {
  res.json(users.snapshot())
})

// Keel errors (no replica available, timeouts) reach Express's error handler as 503s.
app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  res.status(503).json({ error: error.message, code: (error as { code?: string }).code })
})

const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : address
  console.log(`orders service listening on http://127.0.0.1:${port}`)
})

// On shutdown: stop taking requests, then let the balancer finish its calls and close its sockets.
const shutdown = () => {
  server.close()
  server.closeAllConnections()
  void users.close().then(() => process.exit(0))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
