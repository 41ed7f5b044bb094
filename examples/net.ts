// L4 balancing with keel/net: three local TCP servers (each answers a line with its own name),
// least-connections over them with `connect()`, a TCP proxy in front with `createProxy()`, and a
// server that stops accepting: new connections fail over to the others.
// Run: npm run build && node examples/net.ts
import { once } from 'node:events'
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { Balancer, leastRequest } from 'keel'
import { connect, createProxy } from 'keel/net'

/** A server that answers every line with `name: line`. */
async function namedServer(name: string): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.setEncoding('utf8')
    socket.on('data', (line: string) => socket.write(`${name}: ${line}`))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, sockets }
}

async function ask(socket: Socket, line: string): Promise<string> {
  socket.write(`${line}\n`)
  const [answer] = await once(socket, 'data')
  return String(answer).trim()
}

const servers = await Promise.all(['a', 'b', 'c'].map(namedServer))
const balancer = new Balancer({
  endpoints: servers.map((s) => `tcp://127.0.0.1:${s.port}`),
  // Three choices over three endpoints: every pick is the endpoint with the fewest connections.
  picker: leastRequest({ choices: 3 }),
})

// Nine long-lived connections: three per server.
const sockets = []
for (let i = 0; i < 9; i++) sockets.push(await connect(balancer, { timeout: 1_000 }))
const answers = await Promise.all(sockets.map((s, i) => ask(s, `hello ${i}`)))
console.log(answers.join('\n'))
console.log(
  'open connections per endpoint:',
  balancer.snapshot().endpoints.map((e) => e.inFlight),
)

// Server b stops accepting: connections to it are refused, keel fails over and ejects it.
servers[1]!.server.close()
const more = []
for (let i = 0; i < 3; i++) more.push(await connect(balancer))
console.log('after b stopped listening:', (await Promise.all(more.map((s) => ask(s, 'again')))).join(', '))

// The same balancer behind a TCP proxy: any client (psql, redis-cli, nc) can connect to it.
// Connections idle both ways for 30 s are closed (the default is nginx's 10 minutes).
const proxy = createProxy(balancer, {
  idleTimeout: 30_000,
  onError: (error) => console.log('proxy:', (error as Error).message),
})
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
const client = netConnect((proxy.address() as AddressInfo).port, '127.0.0.1')
await once(client, 'connect')
console.log('through the proxy:', await ask(client, 'proxied'))

client.destroy()
for (const s of [...sockets, ...more]) s.destroy()
proxy.close()
for (const s of servers) {
  for (const socket of s.sockets) socket.destroy()
  s.server.close()
}
await balancer.close()
