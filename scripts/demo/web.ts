// The demo's live page: a node:http server on 127.0.0.1 that serves page.html and pushes one
// frame to it four times a second as server-sent events (no dependency, no build step). A page
// opened late gets every frame so far first, so its charts always start at 0 s.
import { readFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What the page draws: one JSON object per frame. */
export interface WebFrame {
  readonly elapsedMs: number
  readonly totalMs: number
  readonly phase: string
  readonly setup: string
  readonly callsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly failures: number
  readonly retries: number
  readonly rows: readonly {
    readonly name: string
    readonly url: string
    readonly share: number
    readonly p50: number
    readonly ewmaMs: number
    readonly state: string
    readonly inFlight: number
  }[]
  /** `[elapsed ms, text]`, oldest first. */
  readonly events: readonly (readonly [number, string])[]
  /** The timeline's moments so far (`B turns slow`…), `[elapsed ms, label]`. */
  readonly marks: readonly (readonly [number, string])[]
  readonly done: boolean
}

const page = readFileSync(new URL('page.html', import.meta.url), 'utf8')

export class WebView {
  readonly #server: Server
  readonly #clients = new Set<ServerResponse>()
  /** Every frame sent, as SSE messages: about 80 for the demo's 20 s. */
  readonly #frames: string[] = []

  private constructor(server: Server) {
    this.#server = server
    server.on('request', (req, res) => {
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
        res.write(this.#frames.join(''))
        this.#clients.add(res)
        res.on('close', () => this.#clients.delete(res))
        return
      }
      if (req.url === '/' || req.url === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        res.end(page)
        return
      }
      res.writeHead(404).end()
    })
  }

  /** Listens on 127.0.0.1:`port`; a busy port falls back to a free one. */
  static async start(port: number): Promise<WebView> {
    const server = createServer()
    const listen = (p: number) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(p, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      })
    await listen(port).catch(() => listen(0))
    return new WebView(server)
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`
  }

  send(frame: WebFrame): void {
    const message = `data: ${JSON.stringify(frame, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n\n`
    this.#frames.push(message)
    for (const client of this.#clients) client.write(message)
  }

  close(): Promise<void> {
    for (const client of this.#clients) client.end()
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
