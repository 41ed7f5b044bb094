// One replica for the drills, run inside its network namespace (`ip netns exec keeldrillN node
// backend.ts`): an HTTP server on :8080 and a gRPC Echo server on :50051, both misbehaving on
// command. Control is line-based on stdin (`{"mode":"e503","rate":1}`, `stats`); stats go to
// stdout as one JSON line. The process exits when stdin closes, so it never outlives its drill.
// With `--delay MS`, the servers listen on loopback and a TCP proxy on the public ports adds
// MS/2 to each direction (MS per round trip): this kernel has no netem.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createTcpServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { loadPackageDefinition, type Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { GRPC_PORT, HTTP_PORT } from './netns.ts'

const delayArg = process.argv.indexOf('--delay')
const delay = delayArg === -1 ? 0 : Number(process.argv[delayArg + 1])

let mode = 'ok'
let rate = 1
const counts: Record<string, number> = {}
const firstAt: Record<string, number> = {}
const postIds: string[] = []
let listenAt = 0

function seen(client: string): void {
  counts[client] = (counts[client] ?? 0) + 1
  firstAt[client] ??= Date.now()
}

const BAD_RETRY_AFTER = ['1.5', '-1', 'abc 1', '1,2']
const MALFORMED = [
  'garbage\x00\x01 not http at all\r\n\r\n',
  'HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nok',
  `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\nContent-Length: 2\r\n\r\nok`,
]
let rotation = 0
const BODY = 'ok'.repeat(50)
const BIG = Buffer.alloc(100 * 1024, 'e')

function misbehave(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket
  switch (mode) {
    case 'hang':
      return // never answers, keeps the socket open
    case 'stall':
      res.writeHead(200, { 'content-length': 1000 })
      res.write('x'.repeat(100))
      return // the rest never comes
    case 'reset':
      res.writeHead(200, { 'content-length': 1000 })
      res.write('x'.repeat(100), () => {
        socket.resetAndDestroy()
      })
      return
    case 'e500':
      res.writeHead(500).end('error')
      return
    case 'big500':
      res.writeHead(500, { 'content-type': 'text/plain' }).end(BIG)
      return
    case 'e503':
      res.writeHead(503).end('unavailable')
      return
    case 'e503ra0':
      res.writeHead(503, { 'retry-after': '0' }).end('unavailable')
      return
    case 'e503bad':
      res.writeHead(503, { 'retry-after': BAD_RETRY_AFTER[rotation++ % BAD_RETRY_AFTER.length]! }).end('unavailable')
      return
    case 'e429':
      res.writeHead(429).end('slow down')
      return
    case 'malformed':
      socket.end(MALFORMED[rotation++ % MALFORMED.length]!)
      return
    default:
      res.end(BODY)
  }
}

const http = createServer((req, res) => {
  seen(String(req.headers['x-drill-client'] ?? 'unknown'))
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const fault = mode !== 'ok' && Math.random() < rate
    // A POST is executed once its whole request has arrived, whatever happens to the answer —
    // except a 429, whose contract is that the request was refused unprocessed.
    if (req.method === 'POST' && !(fault && mode === 'e429')) postIds.push(String(req.headers['x-drill-id']))
    if (fault) misbehave(req, res)
    else res.end(BODY)
  })
})
http.keepAliveTimeout = 65_000

const proto = new URL('../../test/fixtures/grpc/echo.proto', import.meta.url).pathname
// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const Echo = (loadPackageDefinition(loadSync(proto)) as any).keel.test.Echo
const GRPC_FAULTS: Record<string, number> = {
  e500: status.INTERNAL,
  big500: status.INTERNAL,
  e503: status.UNAVAILABLE,
  e503ra0: status.UNAVAILABLE,
  e503bad: status.UNAVAILABLE,
  e429: status.RESOURCE_EXHAUSTED,
}
type UnaryCall = { request: { id: string }; metadata: Metadata }
type Callback = (error: { code: number; details: string } | null, reply?: object) => void
function grpcHandler(post: boolean) {
  return (call: UnaryCall, callback: Callback) => {
    seen(String(call.metadata.get('x-drill-client')[0] ?? 'unknown'))
    const fault = mode !== 'ok' && Math.random() < rate
    // RESOURCE_EXHAUSTED, like a 429, refuses the request unprocessed.
    if (post && !(fault && mode === 'e429')) postIds.push(call.request.id)
    if (fault) {
      if (mode === 'hang') return
      const code = GRPC_FAULTS[mode]
      if (code !== undefined) {
        callback({ code, details: mode })
        return
      }
    }
    callback(null, { id: call.request.id, message: BODY, server: '', index: 0 })
  }
}
const grpc = new Server()
grpc.addService(Echo.service, { Unary: grpcHandler(true), IdempotentUnary: grpcHandler(false) })

/** Forwards a TCP connection to `port` on loopback, each chunk delayed by `ms` in order. */
function delayed(from: Socket, to: Socket, ms: number): void {
  from.on('data', (chunk) => setTimeout(() => to.write(chunk), ms))
  from.on('end', () => setTimeout(() => to.end(), ms))
  from.on('error', () => to.destroy())
  from.on('close', () => setTimeout(() => to.destroy(), ms))
}
function delayProxy(publicPort: number, innerPort: number): Promise<void> {
  const server = createTcpServer((client) => {
    const inner = connect(innerPort, '127.0.0.1')
    delayed(client, inner, delay / 2)
    delayed(inner, client, delay / 2)
  })
  return new Promise((resolve) => server.listen(publicPort, '0.0.0.0', resolve))
}

const host = delay > 0 ? '127.0.0.1' : '0.0.0.0'
const httpPort = delay > 0 ? HTTP_PORT + 10_000 : HTTP_PORT
const grpcPort = delay > 0 ? GRPC_PORT + 10_000 : GRPC_PORT
await new Promise<void>((resolve) => http.listen(httpPort, host, resolve))
await new Promise<void>((resolve, reject) =>
  grpc.bindAsync(`${host}:${grpcPort}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
)
if (delay > 0) {
  await delayProxy(HTTP_PORT, httpPort)
  await delayProxy(GRPC_PORT, grpcPort)
}
listenAt = Date.now()
process.stdout.write(`${JSON.stringify({ ready: true, listenAt })}\n`)

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (line === 'stats') {
    process.stdout.write(`${JSON.stringify({ counts, firstAt, listenAt, postIds })}\n`)
    return
  }
  const command = JSON.parse(line) as { mode: string; rate?: number }
  mode = command.mode
  rate = command.rate ?? 1
})
lines.on('close', () => process.exit(0))
