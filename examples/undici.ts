// BalancerDispatcher: undici's request() and stream() balanced over three local replicas, one of
// which dies half-way. No call fails; a long download counts as in flight until its body ends.
// Run: npm run build && node examples/undici.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { Balancer } from 'keel'
import { BalancerDispatcher } from 'keel/undici'
import { request, stream } from 'undici'

async function replica(): Promise<{ server: Server; url: string; served: () => number }> {
  let served = 0
  const server = createServer((req, res) => {
    served++
    if (req.url === '/report') {
      // A slow, streamed download: three chunks 20 ms apart.
      let n = 0
      const timer = setInterval(() => {
        res.write(`line ${++n}\n`)
        if (n === 3) {
          clearInterval(timer)
          res.end()
        }
      }, 20)
      return
    }
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served }
}

const replicas = [await replica(), await replica(), await replica()]
const orders = new Balancer({ endpoints: replicas.map((r) => r.url) })
const dispatcher = new BalancerDispatcher(orders, { connections: 16 })

// 600 GETs, 8 at a time; replica 2 is killed after the 100th call.
let failed = 0
let next = 0
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < 600) {
      const i = next++
      if (i === 100) {
        replicas[1]!.server.close()
        replicas[1]!.server.closeAllConnections()
      }
      try {
        const res = await request(`http://orders.internal/orders/${i}`, { dispatcher })
        await res.body.text()
      } catch {
        failed++
      }
    }
  }),
)
console.log(
  `600 GETs with a replica killed mid-run: ${failed} failed; served ${replicas.map((r) => r.served()).join('/')}`,
)

// A streamed download: the endpoint shows it in flight until the last byte.
let inFlightDuring = 0
await stream('http://orders.internal/report', { dispatcher, method: 'GET' }, () => {
  return new Writable({
    write(_chunk, _encoding, done) {
      inFlightDuring = Math.max(inFlightDuring, ...orders.snapshot().endpoints.map((e) => e.inFlight))
      done()
    },
  })
})
const after = Math.max(...orders.snapshot().endpoints.map((e) => e.inFlight))
console.log(`streamed report: in flight while streaming ${inFlightDuring}, after ${after}`)

await dispatcher.close()
await orders.close()
for (const r of replicas) {
  r.server.closeAllConnections()
  r.server.close()
}
if (failed > 0 || inFlightDuring !== 1) process.exit(1)
