import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFetch } from '../../src/adapters/fetch/index.ts'
import { type MetricsHandle, prometheusMetrics } from '../../src/addons/prometheus/index.ts'
import { Balancer } from '../../src/index.ts'
import { checkRules, Prometheus, tempDir } from '../helpers/prometheus.ts'
import { startServers, type TestServer } from '../helpers/servers.ts'

const RULES = new URL('../../docs/alerts/keel-rules.yml', import.meta.url).pathname

/** The shipped rules with every `for:` at 0 s, so an alert fires on the first evaluation that sees it. */
function rulesForTest(dir: string): string {
  const file = join(dir, 'keel-rules.yml')
  writeFileSync(file, readFileSync(RULES, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 0s'))
  return file
}

describe('Prometheus scraping a service that uses keel', () => {
  const dir = tempDir('keel-alerts-')
  let backends: TestServer[] = []
  let balancer: Balancer<never> | undefined
  let metrics: MetricsHandle | undefined
  let service: Server | undefined
  let load: NodeJS.Timeout | undefined
  let prometheus: Prometheus | undefined

  beforeAll(async () => {
    backends = await startServers(3)
    // Round-robin: the dead backend gets the next call but two, so the test does not wait on P2C's luck.
    // Re-admission probes off: each refused probe of the dead backend ejects it again, and the
    // ejection count below is exact.
    balancer = new Balancer({
      endpoints: backends.map((b) => b.url),
      picker: 'round-robin',
      outlierDetection: { readmission: false },
    })
    const registry = new Registry()
    metrics = prometheusMetrics(balancer, { name: 'backend', registry })
    const fetch = createFetch(balancer)
    // The service: /metrics for Prometheus, and a steady trickle of calls through keel.
    service = createServer(async (req, res) => {
      if (req.url !== '/metrics') return res.writeHead(404).end()
      res.setHeader('content-type', registry.contentType)
      res.end(await registry.metrics())
    })
    await new Promise<void>((resolve) => service!.listen(0, '127.0.0.1', resolve))
    load = setInterval(() => {
      fetch('/work').then(
        (r) => r.arrayBuffer(),
        () => {},
      )
    }, 20)
    const port = (service.address() as AddressInfo).port
    prometheus = await Prometheus.start({ targets: [`127.0.0.1:${port}`], ruleFiles: [rulesForTest(dir.path)] })
  })

  afterAll(async () => {
    clearInterval(load)
    await prometheus?.stop()
    metrics?.close()
    await balancer?.close()
    await new Promise<void>((resolve) => (service ? service.close(() => resolve()) : resolve()))
    await Promise.all(backends.map((b) => b.close()))
    dir.remove()
  })

  it('promtool accepts the rules file', () => {
    const { status, output } = checkRules(RULES)
    expect(output).toContain('SUCCESS: 5 rules found')
    expect(status).toBe(0)
  })

  it('scrapes keel_* series and fires KeelEndpointEjected once a backend dies', async () => {
    const server = prometheus!
    expect((await server.ruleNames()).sort()).toEqual([
      'KeelAllEndpointsUnavailable',
      'KeelEndpointEjected',
      'KeelHighFailureRatio',
      'KeelPanic',
      'KeelRetryBudgetExhausted',
    ])
    // Scraped with three healthy endpoints, and nothing pending or firing.
    await server.until(async () => {
      const result = await server.query('keel_endpoints{state="active"}')
      return result[0]?.value[1] === '3' ? true : undefined
    })
    expect(await server.alerts()).toEqual([])

    await backends[1]!.close()
    const alert = await server.until(async () =>
      (await server.alerts()).find((a) => a.labels.alertname === 'KeelEndpointEjected' && a.state === 'firing'),
    )
    expect(alert.labels).toMatchObject({ balancer: 'backend', severity: 'warning', job: 'keel' })
    expect(alert.value).toBe('1e+00')
    const ejections = await server.query('keel_ejections_total')
    expect(ejections.map((s) => [s.metric.endpoint, s.metric.detector, s.value[1]])).toEqual([
      [backends[1]!.url, 'outlier', '1'],
    ])
  })
})
