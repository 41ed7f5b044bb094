// Zone-aware routing: nine local servers stand for three replicas in each of three zones. The
// servers of zones b and c answer 15 ms late, as a cross-zone round trip would cost; the caller
// runs in zone a. A zone-blind balancer pays the cross-zone latency on two calls in three; with
// `localZone` every call stays in zone a. Then zone a turns slow (150 ms, 10× the cross-zone
// cost) and sheds most of its calls to b and c.
// Run: npm run build && node examples/zones.ts
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer } from 'keel'

const delay = { a: 0, b: 15, c: 15 }
type Zone = keyof typeof delay

async function replica(zone: Zone): Promise<{ server: Server; url: string; zone: Zone }> {
  const server = createServer((req, res) => {
    req.resume()
    setTimeout(() => res.end(zone), delay[zone])
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, zone }
}

const replicas = await Promise.all((['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c'] as const).map(replica))
const endpoints = replicas.map(({ url, zone }) => ({ url, zone }))

/** `n` sequential GETs: the p50 latency and the share answered by zone a. */
async function run(balancer: Balancer, n: number): Promise<{ p50: number; local: number }> {
  const times: number[] = []
  let local = 0
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    const zone = await balancer.call(async (endpoint) => (await fetch(endpoint.resolve('/'))).text())
    times.push(performance.now() - start)
    if (zone === 'a') local++
  }
  times.sort((x, y) => x - y)
  return { p50: times[n >> 1]!, local: local / n }
}

const report = (label: string, r: { p50: number; local: number }) =>
  console.log(
    `${label.padEnd(34)} p50 ${r.p50.toFixed(1).padStart(5)} ms, ${(r.local * 100).toFixed(0).padStart(3)}% in zone a`,
  )

const blind = new Balancer({ endpoints })
// Probing the other zones' latency every 100 calls and 100 ms (default: 100 calls and 10 s), so
// that this short demo knows them before zone a turns slow.
const aware = new Balancer({ endpoints, localZone: 'a', zoneAware: { latency: { interval: 200, probeInterval: 100 } } })
await run(blind, 30)
await run(aware, 30)
report('zone-blind', await run(blind, 150))
report('localZone: a', await run(aware, 400))

delay.a = 150 // zone a turns slow: an overloaded zone, a bad network path
await run(aware, 20)
report('localZone: a, zone a slow (150 ms)', await run(aware, 100))

await Promise.all([blind.close(), aware.close()])
await Promise.all(replicas.map(({ server }) => new Promise((resolve) => server.close(resolve))))
