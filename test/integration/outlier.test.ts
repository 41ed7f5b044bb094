import { afterEach, expect, it } from 'vitest'
import { Balancer, type EjectedEvent } from '../../src/index.ts'
import { startServers, type TestServer } from '../helpers/servers.ts'

let servers: TestServer[] = []
let balancer: Balancer | undefined
afterEach(async () => {
  await balancer?.close()
  await Promise.all(servers.map((s) => s.close()))
  servers = []
  balancer = undefined
})

it('ejects the one backend of six that fails 30% of requests by success rate, and sends it no attempt while ejected', async () => {
  servers = await startServers(6)
  const bad = servers[5]!
  let arrivals = 0
  // Exactly 3 failures in every 10 requests, never more than 3 in a row: only the sweep can catch it.
  bad.handle((_req, res) => {
    const fail = arrivals++ % 10 < 3
    res.statusCode = fail ? 500 : 200
    res.end(fail ? 'failed' : 'ok')
  })
  const b = new Balancer({
    endpoints: servers.map((s) => s.url),
    picker: 'round-robin',
    retry: false,
    outlierDetection: { interval: 500, baseEjectionTime: 1_000, successRate: { requestVolume: 10 } },
  })
  balancer = b
  const badId = b.endpoints.find((e) => e.port === bad.port)!.id

  const ejections: EjectedEvent[] = []
  const ejected = new Set<string>()
  let done = false
  // Requests the bad server received while ejected can only come from attempts already in flight.
  let inFlightAtEjection = 0
  let arrivalsAtEjection = 0
  let arrivalsAtRestore = 0
  b.on('ejected', (e) => {
    ejections.push(e)
    ejected.add(e.endpoint.id)
    if (e.endpoint.id !== badId) return
    inFlightAtEjection = b.snapshot().endpoints.find((s) => s.id === badId)!.inFlight
    arrivalsAtEjection = bad.requests.length
  })
  b.on('restored', (e) => {
    ejected.delete(e.endpoint.id)
    if (e.endpoint.id !== badId) return
    arrivalsAtRestore = bad.requests.length
    done = true
  })

  let attempts = 0
  const violations: string[] = []
  const deadline = performance.now() + 8_000
  const worker = async () => {
    while (!done && performance.now() < deadline) {
      await b
        .call(async (endpoint) => {
          attempts++
          // The invariant, on every attempt: no attempt starts on an ejected endpoint.
          const state = b.snapshot().endpoints.find((e) => e.id === endpoint.id)!
          if (ejected.has(endpoint.id) || state.states.includes('ejected')) violations.push(endpoint.id)
          const res = await fetch(endpoint.resolve('/'))
          await res.text()
          if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status })
        })
        .catch(() => {})
    }
  }
  await Promise.all([worker(), worker(), worker()])

  expect(done).toBe(true)
  expect(ejections.map((e) => [e.endpoint.id, e.detector, e.reason])).toEqual([[badId, 'outlier', 'success-rate']])
  expect(ejections[0]!.until).toBeDefined()
  expect(violations).toEqual([])
  expect(arrivalsAtRestore - arrivalsAtEjection).toBeLessThanOrEqual(inFlightAtEjection)
  expect(attempts).toBeGreaterThan(120)
})
