import { request } from 'undici'
import { expect } from 'vitest'
import { BalancerDispatcher } from '../../helpers/adapters.ts'
import { type AdapterDriver, streaming } from './driver.ts'

/** `BalancerDispatcher` under undici's `request`: any origin, the endpoint's own is used. */
export const undiciDriver: AdapterDriver = {
  name: 'BalancerDispatcher',
  keepAliveTimeout: 5_000,
  client(balancer) {
    const dispatcher = new BalancerDispatcher(balancer)
    const origin = 'http://users.internal'
    return {
      async get(path, options = {}) {
        const res = await request(`${origin}${path}`, { dispatcher, ...options } as Parameters<typeof request>[1])
        return { status: res.statusCode, body: await res.body.text() }
      },
      async send(method, path, body, headers = {}) {
        const res = await request(`${origin}${path}`, { dispatcher, method, body, headers })
        return { status: res.statusCode, body: await res.body.text() }
      },
      async open(path) {
        const res = await request(`${origin}${path}`, { dispatcher })
        return streaming(res.statusCode, res.body, String)
      },
    }
  },
  expectRefused(error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
  },
  expectAttemptTimeout(error) {
    expect(error).toMatchObject({ code: 'KEEL_ATTEMPT_TIMEOUT' })
  },
}
