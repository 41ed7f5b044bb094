// A custom discovery source: polls an HTTP service registry and hands keel each answer.
// The example starts its own registry and three backends on 127.0.0.1, makes calls, registers a
// fourth backend, deregisters one, and prints who served what. Run: node examples/custom-discovery.ts
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Balancer, type Discovery, type DiscoveryUpdate } from 'keel'

/**
 * Polls `registryUrl` (a JSON array of `{ host, port }`) every `interval` ms. The contract is
 * small: `watch(listener)` delivers whole snapshots or errors and returns a dispose function;
 * `refresh()` (optional) asks for an answer soon — keel calls it when no endpoint is eligible.
 */
function registryDiscovery(registryUrl: string, interval = 200): Discovery {
  let pollNow: (() => void) | undefined
  return {
    refresh() {
      pollNow?.()
    },
    watch(listener: (update: DiscoveryUpdate) => void) {
      let timer: NodeJS.Timeout | undefined
      let stopped = false
      const controller = new AbortController()
      const poll = async () => {
        timer = undefined
        try {
          const res = await fetch(registryUrl, { signal: controller.signal })
          if (!res.ok) throw new Error(`registry answered ${res.status}`)
          const instances = (await res.json()) as { host: string; port: number }[]
          if (!stopped)
            listener({ endpoints: instances.map((i) => ({ protocol: 'http:', host: i.host, port: i.port })) })
        } catch (error) {
          // keel keeps the last good set and emits `discoveryError`.
          if (!stopped) listener({ error })
        }
        // unref: a background poll must never keep the process alive.
        if (!stopped) timer = setTimeout(poll, interval).unref()
      }
      void poll()
      pollNow = () => {
        // Between polls only: a poll in flight is answer enough.
        if (timer === undefined || stopped) return
        clearTimeout(timer)
        void poll()
      }
      return () => {
        stopped = true
        pollNow = undefined
        controller.abort()
        if (timer !== undefined) clearTimeout(timer)
      }
    },
  }
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

// Backends answer with their own name.
const backends = new Map<string, { server: Server; port: number }>()
for (const name of ['a', 'b', 'c', 'd']) {
  const server = createServer((_req, res) => res.end(name))
  backends.set(name, { server, port: await listen(server) })
}

// The registry lists whichever backends are registered.
const registered = new Set(['a', 'b', 'c'])
const registry = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify([...registered].map((name) => ({ host: '127.0.0.1', port: backends.get(name)!.port }))))
})
const registryPort = await listen(registry)

const balancer = new Balancer({
  discovery: registryDiscovery(`http://127.0.0.1:${registryPort}/instances`),
  // Round-robin makes membership easy to read in the counts; the default p2c-ewma follows latency.
  picker: 'round-robin',
})
balancer.on('endpointAdded', ({ endpoint }) => console.log(`added   ${endpoint.id}`))
balancer.on('endpointRemoved', ({ endpoint }) => console.log(`removed ${endpoint.id}`))
balancer.on('discoveryError', ({ error }) => console.log(`discovery error: ${String(error)}`))

async function round(label: string, calls: number): Promise<void> {
  const served = new Map<string, number>()
  for (let i = 0; i < calls; i++) {
    // Calls made before the registry's first answer wait for it (bounded by their own timeout).
    const name = await balancer.call(
      async (endpoint, attempt) => (await fetch(endpoint.resolve('/'), { signal: attempt.signal })).text(),
      { timeout: 2_000 },
    )
    served.set(name, (served.get(name) ?? 0) + 1)
  }
  const counts = [...served].sort().map(([name, n]) => `${name}=${n}`)
  console.log(`${label}: ${counts.join(' ')}`)
}

await round('three registered', 30)

const next = (event: 'endpointAdded' | 'endpointRemoved') =>
  new Promise<void>((resolve) => balancer.once(event, () => resolve()))

registered.add('d')
await next('endpointAdded')
await round('after registering d', 40)

registered.delete('a')
await next('endpointRemoved')
await round('after deregistering a', 30)

await balancer.close()
registry.close()
for (const { server } of backends.values()) server.close()
