// Backends for bench/slow-backend.ts, in their own process so their timers do not share the
// client's event loop: `node _delay-backends.ts 5,5,5,100` listens on four free ports, answers
// after the given delays (0: at once, without a timer), and prints `{"ports":[…]}`. GET /__count
// returns and resets a count.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const delays = (process.argv[2] ?? '5,5,5,100').split(',').map(Number)
const ports: number[] = []
for (const delay of delays) {
  let count = 0
  const server = createServer((req, res) => {
    if (req.url === '/__count') {
      res.end(String(count))
      count = 0
      return
    }
    count++
    if (delay === 0) {
      res.end('ok')
      return
    }
    const timer = setTimeout(() => res.end('ok'), delay)
    res.on('close', () => clearTimeout(timer))
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  ports.push((server.address() as AddressInfo).port)
}
console.log(JSON.stringify({ ports }))
