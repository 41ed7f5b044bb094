// A thrown error whose response head said 2xx — axios' `stream has been aborted` when a body
// stalls or resets after the head — is a failed exchange, never a success; and a call whose only
// attempt threw rejects, even when a `classify` calls it a success.
import { describe, expect, it } from 'vitest'
import { Balancer, classifyError } from '../../src/index.ts'

const now = () => Date.UTC(2026, 10, 21)

describe('a thrown error with a 2xx head', () => {
  it('is an endpoint failure (axios: the body failed after the head)', () => {
    const aborted = Object.assign(new Error('stream has been aborted'), {
      isAxiosError: true,
      code: 'ERR_BAD_RESPONSE',
      response: { status: 200, headers: {} },
    })
    expect(classifyError(aborted, now)).toBe('endpoint-failure')
    expect(classifyError(Object.assign(new Error('body failed'), { status: 200, headers: {} }), now)).toBe(
      'endpoint-failure',
    )
    // Error statuses still decide as before.
    expect(
      classifyError(Object.assign(new Error('x'), { isAxiosError: true, response: { status: 404, headers: {} } }), now),
    ).toBe('caller-error')
  })

  it('rejects the call even when classify says success', async () => {
    const balancer = new Balancer({ endpoints: ['http://10.0.0.1:80'], classify: () => 'success' })
    const error = new Error('thrown')
    await expect(
      balancer.call(async () => {
        throw error
      }),
    ).rejects.toBe(error)
    await balancer.close()
  })
})
