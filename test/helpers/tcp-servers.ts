import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'

/** A TCP server on 127.0.0.1 that echoes what it reads and keeps its open connections. */
export interface TcpServer {
  readonly port: number
  readonly url: string
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections open now. */
  readonly open: Set<Socket>
  /** Resolves when `n` connections have been accepted in total. */
  accepts(n: number): Promise<void>
  /** Stops listening (new connections are refused); open ones keep running. */
  refuse(): Promise<void>
  /** Destroys the open connections (the server side closes them). */
  dropConnections(): void
  close(): Promise<void>
}

/** Starts an echo server on 127.0.0.1 at a free port. */
export async function startTcpServer(): Promise<TcpServer> {
  const open = new Set<Socket>()
  let accepted = 0
  const waiters: { n: number; wake: () => void }[] = []
  const server: Server = createServer((socket) => {
    accepted++
    open.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => open.delete(socket))
    socket.pipe(socket)
    for (const w of waiters.filter((w) => accepted >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.wake()
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) resolve()
      else server.close(() => resolve())
    })
  return {
    port,
    url: `tcp://127.0.0.1:${port}`,
    get accepted() {
      return accepted
    },
    open,
    accepts: (n) => (accepted >= n ? Promise.resolve() : new Promise<void>((wake) => waiters.push({ n, wake }))),
    refuse: async () => {
      // close() stops listening at once; its callback waits for the open connections, which stay.
      server.close()
      await new Promise<void>((resolve) => setImmediate(resolve))
    },
    dropConnections: () => {
      for (const socket of open) socket.destroy()
    },
    close: async () => {
      for (const socket of open) socket.destroy()
      await stop()
    },
  }
}
