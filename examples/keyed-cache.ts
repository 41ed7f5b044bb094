// A cache client with consistent hashing: three local cache nodes, each holding what it was sent.
// keel routes every request by its cache key with Maglev, so a key always reaches the node that
// holds it; when a node is removed, its keys move (and miss once), and few others do.
// Run: npm run build && node examples/keyed-cache.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer } from 'keel'
import { createFetch } from 'keel/fetch'

/** A cache node: `PUT /cache/:key` stores the body, `GET /cache/:key` answers it or 404. */
async function cacheNode(): Promise<{ server: Server; url: string; keys: () => number }> {
  const store = new Map<string, string>()
  const server = createServer((req, res) => {
    const key = decodeURIComponent(req.url!.slice('/cache/'.length))
    if (req.method === 'PUT') {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk))
      req.on('end', () => {
        store.set(key, body)
        res.writeHead(204).end()
      })
      return
    }
    const value = store.get(key)
    if (value === undefined) res.writeHead(404).end()
    else res.end(value)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys: () => store.size }
}

const nodes = [await cacheNode(), await cacheNode(), await cacheNode()]
const cache = new Balancer({ endpoints: nodes.map((n) => n.url), picker: 'maglev' })
const fetch = createFetch(cache)

/** The cache client: each request carries its key, so Maglev picks the node that owns it. */
async function get(key: string): Promise<string | undefined> {
  const res = await fetch(`/cache/${encodeURIComponent(key)}`, { key })
  if (res.status === 404) {
    await res.body?.cancel()
    return undefined
  }
  return res.text()
}
async function set(key: string, value: string): Promise<void> {
  const res = await fetch(`/cache/${encodeURIComponent(key)}`, { method: 'PUT', body: value, key })
  await res.body?.cancel()
}

const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`)
for (const key of keys) await set(key, `profile of ${key}`)
let hits = 0
for (const key of keys) if ((await get(key)) === `profile of ${key}`) hits++
console.log(`300 keys over 3 nodes (${nodes.map((n) => n.keys()).join('/')}): ${hits}/300 hits on read-back`)

// Remove one node: its keys move to the others (each misses once); the others stay where they
// were, but for the few that Maglev's refilled table shifts (ring-hash would move none of them).
const removed = cache.snapshot().endpoints[0]!.id
const held = nodes.find((n) => n.url === removed)!.keys()
cache.remove(removed)
let missed = 0
for (const key of keys) {
  if ((await get(key)) === undefined) {
    missed++
    await set(key, `profile of ${key}`)
  }
}
let hitsAfter = 0
for (const key of keys) if ((await get(key)) === `profile of ${key}`) hitsAfter++
console.log(
  `after removing a node: ${missed} misses (the ${held} keys it held, ${missed - held} others); then ${hitsAfter}/300 hits`,
)

await cache.close()
for (const n of nodes) {
  n.server.closeAllConnections()
  n.server.close()
}
if (hits !== 300 || hitsAfter !== 300 || missed < held || missed - held > 0.05 * (300 - held)) process.exit(1)
