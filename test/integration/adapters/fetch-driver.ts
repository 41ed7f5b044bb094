import { expect } from 'vitest'
import { createFetch } from '../../helpers/adapters.ts'
import { type AdapterDriver, streaming } from './driver.ts'

/** `createFetch`: relative URLs, `Response` bodies, a rejection like fetch's own. */
export const fetchDriver: AdapterDriver = {
  name: 'createFetch',
  keepAliveTimeout: 5_000,
  client(balancer) {
    const fetch = createFetch(balancer)
    return {
      async get(path, options = {}) {
        const res = await fetch(path, options.key === undefined ? {} : { key: options.key })
        return { status: res.status, body: await res.text() }
      },
      async send(method, path, body, headers = {}) {
        const init = { method, body, headers, duplex: 'half' } as unknown as RequestInit
        const res = await fetch(path, init)
        return { status: res.status, body: await res.text() }
      },
      async open(path) {
        const res = await fetch(path)
        const decoder = new TextDecoder()
        return streaming(res.status, res.body!, (chunk) => decoder.decode(chunk, { stream: true }))
      },
    }
  },
  expectRefused(error) {
    expect(error).toBeInstanceOf(TypeError)
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
  },
  expectAttemptTimeout(error) {
    // As fetch's own: a TypeError whose cause is what ended the body.
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).cause).toMatchObject({ code: 'KEEL_ATTEMPT_TIMEOUT' })
  },
}
