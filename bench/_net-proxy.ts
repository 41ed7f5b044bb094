// keel's createProxy for bench/net.ts, in its own process (as HAProxy runs in its own): balances
// over the backend ports given as JSON with least-request over all of them (least-connections).
// A second argument names another checkout's `src/` to load keel from (an A/B in one run).
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const ports = JSON.parse(process.argv[2]!) as number[]
const src =
  process.argv[3] === undefined ? new URL('../src/', import.meta.url) : pathToFileURL(`${resolve(process.argv[3])}/`)
const { createProxy } = (await import(
  new URL('adapters/net/index.ts', src).href
)) as typeof import('../src/adapters/net/index.ts')
const { Balancer, leastRequest } = (await import(new URL('index.ts', src).href)) as typeof import('../src/index.ts')
const balancer = new Balancer({
  endpoints: ports.map((p) => `tcp://127.0.0.1:${p}`),
  picker: leastRequest({ choices: Math.min(10, Math.max(2, ports.length)) }),
})
const proxy = createProxy(balancer)
proxy.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(proxy.address() as { port: number }).port}\n`)
})
