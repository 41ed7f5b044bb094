import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach } from 'vitest'
import { type AttemptEvent, Balancer, type BalancerOptions, type EndpointInput } from '../../src/index.ts'
import { startServers, type TestServer } from './servers.ts'

/** A balancer under test with every attempt it ended, in order. */
export interface Observed {
  readonly balancer: Balancer<unknown>
  readonly attempts: AttemptEvent[]
  /**
   * Resolves once `n` attempts have ended: a response handed over streaming reaches the caller
   * before keel has finished its attempt's accounting.
   */
  settled(n: number): Promise<void>
}

/**
 * Servers and balancers for an adapter's integration tests, closed after each test. Call once,
 * at the top of the file (it registers an `afterEach`).
 */
export function adapterHarness(keepAliveTimeout = 5_000) {
  let balancers: Balancer<unknown>[] = []
  let servers: TestServer[] = []
  afterEach(async () => {
    await Promise.all(balancers.map((b) => b.close()))
    await Promise.all(servers.map((s) => s.close()))
    balancers = []
    servers = []
  })
  return {
    /** `n` servers; keep-alive long enough for clients to reuse connections, as in production. */
    async servers(n: number, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer[]> {
      const list = await startServers(n, handler, { keepAliveTimeout })
      servers.push(...list)
      return list
    },
    /** A balancer over `endpoints` whose attempts are recorded. */
    observe(endpoints: readonly EndpointInput[], options: BalancerOptions<never> = {}): Observed {
      const balancer = new Balancer({ endpoints, ...options })
      balancers.push(balancer)
      return { balancer, ...recordAttempts(balancer) }
    },
  }
}

/** Records every attempt `balancer` ends. */
export function recordAttempts(balancer: Balancer<unknown>): Omit<Observed, 'balancer'> {
  const attempts: AttemptEvent[] = []
  balancer.on('attempt', (event) => attempts.push(event))
  const settled = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (attempts.length < n) return
        balancer.off('attempt', check)
        resolve()
      }
      balancer.on('attempt', check)
      check()
    })
  return { attempts, settled }
}

/** A handler that reads the request body, then answers `status` with `body`. */
export function answer(status: number, body = '') {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      res.statusCode = status
      res.end(body)
    })
  }
}

/** Requests received by all of `list`. */
export const totalRequests = (list: readonly TestServer[]) => list.map((s) => s.requests.length).reduce((a, b) => a + b)
