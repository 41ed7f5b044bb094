// TCP backends for bench/net.ts, in their own process: each connection sends a line with a byte
// count, gets that many bytes back and the server's FIN ("0" for the connection-rate test).
import { createServer } from 'node:net'

const count = Number(process.argv[2] ?? 3)
const chunk = Buffer.alloc(256 * 1024, 120)
const ports: number[] = []
for (let i = 0; i < count; i++) {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    let line = ''
    const onData = (data: Buffer) => {
      line += data.toString('latin1')
      const eol = line.indexOf('\n')
      if (eol === -1) return
      socket.off('data', onData)
      let left = Number(line.slice(0, eol))
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length)
          left -= n
          if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            socket.once('drain', pump)
            return
          }
        }
        socket.end()
      }
      pump()
      socket.resume()
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  ports.push((server.address() as { port: number }).port)
}
process.stdout.write(`${JSON.stringify(ports)}\n`)
