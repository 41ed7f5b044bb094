// keel's createProxy for bench/net.ts, in its own process (as HAProxy runs in its own): balances
// over the backend ports given as JSON with least-request over all of them (least-connections).
import { createProxy } from '../src/adapters/net/index.ts'
import { Balancer, leastRequest } from '../src/index.ts'

const ports = JSON.parse(process.argv[2]!) as number[]
const balancer = new Balancer({
  endpoints: ports.map((p) => `tcp://127.0.0.1:${p}`),
  picker: leastRequest({ choices: Math.min(10, Math.max(2, ports.length)) }),
})
const proxy = createProxy(balancer)
proxy.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(proxy.address() as { port: number }).port}\n`)
})
