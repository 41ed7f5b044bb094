import axios from 'axios'
import { afterAll, describe, expect, it } from 'vitest'
import { axiosAdapter } from '../../../src/adapters/axios/index.ts'
import { Balancer } from '../../../src/index.ts'

const made: Balancer<unknown>[] = []
afterAll(() => Promise.all(made.map((b) => b.close())))

// Port 9 (discard) on a documentation address: nothing here is ever sent.
function balancer(): Balancer<unknown> {
  const b = new Balancer({ endpoints: ['http://192.0.2.1:9'] })
  made.push(b)
  return b
}

describe('axiosAdapter options', () => {
  it('refuses what is not a balancer, unknown options and bad values, naming them', () => {
    expect(() => axiosAdapter({} as never)).toThrow('Expected `balancer` to be a keel Balancer, got {}')
    expect(() => axiosAdapter(balancer(), { serviceURL: 'x' } as never)).toThrow(
      'Unknown option `serviceURL` (did you mean `serviceUrl`?)',
    )
    expect(() => axiosAdapter(balancer(), { serviceUrl: 'users.internal' })).toThrow(
      'Expected `serviceUrl` to be an absolute http: or https: URL, got "users.internal"',
    )
    expect(() => axiosAdapter(balancer(), { agent: 'keep-alive' as never })).toThrow(
      'Expected `agent` to be an object of node:https Agent options, got "keep-alive"',
    )
  })

  it('rejects a request with bad keel options before sending it', async () => {
    const api = axios.create({ adapter: axiosAdapter(balancer()) })
    await expect(api.get('/', { keel: { idempotnt: true } as never })).rejects.toThrow(
      'Unknown option `keel.idempotnt` (did you mean `keel.idempotent`?)',
    )
    await expect(api.get('/', { keel: { idempotent: 'yes' } as never })).rejects.toThrow(
      'Expected `keel.idempotent` to be a boolean, got "yes"',
    )
    await expect(api.get('/', { keel: { key: 42 } as never })).rejects.toThrow(/`key`/)
    await expect(api.get('http://users.internal/')).rejects.toMatchObject({
      isAxiosError: true,
      code: 'ERR_INVALID_URL',
    })
  })
})
