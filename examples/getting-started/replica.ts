// One replica of a small "users" service: GET /users/:id answers JSON after `latency` ms.
// POST /admin/latency?ms=300 makes this replica slow (the tutorial's "slow one").
// Run: node replica.ts 3001   (port 0 picks a free port; the URL is printed either way)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

let latencyMs = 5

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://replica')
  if (req.method === 'POST' && url.pathname === '/admin/latency') {
    latencyMs = Number(url.searchParams.get('ms') ?? 5)
    res.end(`latency is now ${latencyMs} ms\n`)
    return
  }
  const match = /^\/users\/(\w+)$/.exec(url.pathname)
  if (match === null) {
    res.statusCode = 404
    res.end()
    return
  }
  const { port } = server.address() as AddressInfo
  const timer = setTimeout(() => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ id: match[1], name: `user ${match[1]}`, servedBy: port }))
  }, latencyMs)
  res.on('close', () => clearTimeout(timer))
})

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(`users replica listening on http://127.0.0.1:${port}`)
})
