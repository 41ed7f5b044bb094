import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RequestLog {
  method: string
  url: string
  headers: IncomingMessage['headers']
}

export interface TestServer {
  readonly url: string
  readonly port: number
  /** Every request received, in order. */
  readonly requests: RequestLog[]
  /** TCP connections accepted so far. */
  readonly connections: number
  /** Replaces the handler. */
  handle(handler: (req: IncomingMessage, res: ServerResponse) => void): void
  /** Stops accepting connections and destroys open ones. */
  close(): Promise<void>
  /** Listens again on the same port (after `close`). */
  restart(): Promise<void>
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.end('ok')
}

export interface ServerOptions {
  /**
   * The server's keep-alive timeout in ms. undici reuses a connection only when the server's
   * timeout exceeds its 2 s safety margin, so the 1 s default means one connection per request.
   * @default 1_000
   */
  readonly keepAliveTimeout?: number
}

/** A real node:http server on 127.0.0.1 with a request log; port 0 unless given. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void = ok,
  port = 0,
  options: ServerOptions = {},
): Promise<TestServer> {
  let current = handler
  const requests: RequestLog[] = []
  let connections = 0
  let server: Server
  const listen = (p: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer((req, res) => {
        requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers })
        current(req, res)
      })
      s.keepAliveTimeout = options.keepAliveTimeout ?? 1_000
      s.on('connection', () => connections++)
      s.once('error', reject)
      s.listen(p, '127.0.0.1', () => resolve(s))
    })
  server = await listen(port)
  const actualPort = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    get connections() {
      return connections
    },
    handle(next) {
      current = next
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
    async restart() {
      server = await listen(actualPort)
    },
  }
}

/** Starts `n` servers with the same handler. */
export async function startServers(
  n: number,
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
  options?: ServerOptions,
): Promise<TestServer[]> {
  return Promise.all(Array.from({ length: n }, () => startServer(handler, 0, options)))
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await startServer()
  await s.close()
  return s.port
}
