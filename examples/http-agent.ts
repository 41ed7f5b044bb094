// BalancerAgent: one node:http Agent balances got, node-fetch, superagent, http.request and the
// AWS SDK's NodeHttpHandler over three local replicas, one of which dies half-way. Requests that
// find it gone are re-sent to a live replica by the agent; got's own retry covers the requests
// that were in flight on it. No call fails.
// Run: npm run build && node examples/http-agent.ts
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { HttpRequest } from '@smithy/protocol-http'
import got from 'got'
import { Balancer } from 'keel'
import { BalancerAgent } from 'keel/http'
import fetch from 'node-fetch'
import superagent from 'superagent'

async function replica(name: string): Promise<{ server: Server; url: string; served: () => number }> {
  let served = 0
  const server = createReplica(name, () => served++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served }
}

function createReplica(name: string, count: () => void): Server {
  const server = http.createServer((req, res) => {
    count()
    res.end(`${name} served ${req.headers.host}${req.url}`)
  })
  server.keepAliveTimeout = 10_000
  return server
}

const replicas = [await replica('a'), await replica('b'), await replica('c')]
const users = new Balancer({ endpoints: replicas.map((r) => r.url) })
const agent = new BalancerAgent(users)

// Every client takes the agent; the URL's host names the service and stays the Host header.
const viaGot = await got('http://users.internal/users/1', { agent: { http: agent } }).text()
const viaNodeFetch = await (await fetch('http://users.internal/users/2', { agent })).text()
const viaSuperagent = (await superagent.get('http://users.internal/users/3').agent(agent)).text
const aws = new NodeHttpHandler({ httpAgent: agent })
const { response } = await aws.handle(
  new HttpRequest({ protocol: 'http:', hostname: 'users.internal', path: '/users/4', method: 'GET' }),
)
let viaAws = ''
for await (const chunk of response.body as AsyncIterable<Buffer>) viaAws += chunk
console.log([viaGot, viaNodeFetch, viaSuperagent, viaAws].join('\n'))

// 600 GETs through got, 8 at a time; replica b is killed after the 100th.
const client = got.extend({ agent: { http: agent }, retry: { limit: 2, backoffLimit: 10 } })
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
        await client(`http://users.internal/orders/${i}`).text()
      } catch {
        failed++
      }
    }
  }),
)
console.log(
  `600 GETs with a replica killed mid-run: ${failed} failed; served ${replicas.map((r) => r.served()).join('/')}`,
)

aws.destroy()
agent.destroy()
await users.close()
for (const r of replicas) {
  r.server.closeAllConnections()
  r.server.close()
}
if (failed > 0 || !/^[abc] served users\.internal\/users\/4$/.test(viaAws)) process.exit(1)
