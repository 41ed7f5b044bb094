// A demo backend: a node:http server on 127.0.0.1 whose latency can change, and which can die
// (listener closed, connections cut: new ones are refused) and come back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export class Backend {
  readonly name: string
  /** Milliseconds each `/work` request takes (plus up to 40% jitter). */
  latencyMs: number
  #server: Server | undefined
  #port = 0

  constructor(name: string, latencyMs: number) {
    this.name = name
    this.latencyMs = latencyMs
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  get port(): number {
    return this.#port
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res))
    // Longer than the client's 4 s idle timeout, as production servers keep connections.
    server.keepAliveTimeout = 10_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => resolve())
    })
    this.#port = (server.address() as AddressInfo).port
    this.#server = server
  }

  /** Dies: stops listening and cuts every open connection, requests in flight included. */
  stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return Promise.resolve()
    return new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume()
    if (req.url?.endsWith('/health')) {
      res.end('ok')
      return
    }
    const delay = this.latencyMs * (1 + 0.4 * Math.random())
    const timer = setTimeout(() => res.end(`${this.name} did ${req.url}`), delay)
    res.on('close', () => clearTimeout(timer))
  }
}
