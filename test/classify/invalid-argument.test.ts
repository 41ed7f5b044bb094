import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { classifyError } from '../../src/classify/classify.ts'

const wallNow = () => 0

describe('classifying a request the client refused to send', () => {
  it("treats undici's InvalidArgumentError as the caller's error, not the endpoint's", () => {
    expect(classifyError(new errors.InvalidArgumentError('invalid x-bad header'), wallNow)).toBe('caller-error')
  })

  it('treats it the same when fetch wraps it in a TypeError', () => {
    const wrapped = new TypeError('fetch failed', { cause: new errors.InvalidArgumentError('invalid header') })
    expect(classifyError(wrapped, wallNow)).toBe('caller-error')
  })
})
