// OriginRouter: Node's global fetch, balanced for one service's origin with no other code change.
// Requests for http://users.internal go to its replicas through keel; every other origin goes to
// undici's plain Agent, as before.
// Run: npm run build && node examples/global-fetch.ts
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer } from 'keel'
import { OriginRouter } from 'keel/undici'
import { setGlobalDispatcher } from 'undici'

async function serve(name: string): Promise<{ server: Server; url: string }> {
  const server = http.createServer((req, res) => res.end(`${name} (Host: ${req.headers.host})`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

const replicas = [await serve('users-1'), await serve('users-2')]
const elsewhere = await serve('another service')
const users = new Balancer({ endpoints: replicas.map((r) => r.url), picker: 'round-robin' })

const router = new OriginRouter({ 'http://users.internal': users })
setGlobalDispatcher(router)

const answers: string[] = []
for (let i = 0; i < 4; i++) answers.push(await (await fetch(`http://users.internal/users/${i}`)).text())
answers.push(await (await fetch(`${elsewhere.url}/`)).text())
console.log(answers.join('\n'))

await router.close()
await users.close()
for (const { server } of [...replicas, elsewhere]) {
  server.closeAllConnections()
  server.close()
}
const spread = new Set(answers.slice(0, 4)).size
if (spread !== 2 || !answers[4]!.startsWith('another service')) process.exit(1)
