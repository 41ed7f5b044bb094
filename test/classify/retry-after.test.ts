import { describe, expect, it } from 'vitest'
import { classifyStatus, parseRetryAfter } from '../../src/index.ts'

// Sat, 21 Nov 2026 12:00:00 GMT
const wall = Date.UTC(2026, 10, 21, 12, 0, 0)
const now = () => wall

describe('parseRetryAfter (RFC 9110 §10.2.3)', () => {
  it('reads delay-seconds: digits only', () => {
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('007', now)).toBe(7_000)
  })

  it('reads the three HTTP-date formats', () => {
    expect(parseRetryAfter('Sat, 21 Nov 2026 12:00:05 GMT', now)).toBe(5_000) // IMF-fixdate
    expect(parseRetryAfter('Saturday, 21-Nov-26 12:01:00 GMT', now)).toBe(60_000) // RFC 850
    expect(parseRetryAfter('Sat Nov 21 12:00:30 2026', now)).toBe(30_000) // asctime
    expect(parseRetryAfter('Tue Dec  1 12:00:00 2026', now)).toBe(10 * 86_400_000) // asctime, 1-digit day
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(0) // in the past
  })

  it('reads an RFC 850 two-digit year more than 50 years ahead as the past century', () => {
    // '77' would be 2077 (51 years ahead): it is 1977, so the date is past.
    expect(parseRetryAfter('Friday, 21-Nov-77 12:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('Saturday, 21-Nov-76 12:00:00 GMT', now)).toBe(Date.UTC(2076, 10, 21, 12) - wall)
  })

  it('treats every other value as absent: never 0, never the cap', () => {
    for (const value of [
      '1.5',
      '-1',
      '+5',
      'abc 1',
      '1,2',
      '1 2',
      '',
      'soon',
      '12/31/2099',
      '2099-12-31',
      '2099-12-31T00:00:00Z',
      'Thu, 31 Dec 2099', // no time
      'Sat, 21 Nov 2026 12:00:05 UTC', // GMT only
      'Sat, 21 Nov 2026 12:00:05 +0000',
      'Sat, 31 Feb 2026 12:00:05 GMT', // no such day
      'Sat, 21 Nov 2026 24:00:00 GMT',
      'sat, 21 nov 2026 12:00:05 gmt', // case-sensitive
      'Saturday, 21 Nov 2026 12:00:05 GMT',
      '0x10',
      '1e3',
      'Infinity',
    ]) {
      expect(parseRetryAfter(value, now), value).toBeUndefined()
    }
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })

  it('tolerates surrounding whitespace only', () => {
    expect(parseRetryAfter(' 3 ', now)).toBe(3_000)
    expect(parseRetryAfter(' Sat, 21 Nov 2026 12:00:05 GMT ', now)).toBe(5_000)
  })

  it('makes a 503 with a malformed Retry-After an endpoint failure, not a zero-length pause', () => {
    for (const value of ['1.5', '-1', 'abc 1', '1,2', '12/31/2099']) {
      expect(classifyStatus(503, { 'retry-after': value }, now), value).toBe('endpoint-failure')
    }
    expect(classifyStatus(503, { 'retry-after': '2' }, now)).toEqual({
      verdict: 'overloaded',
      retryAfterMs: 2_000,
      refused: false,
    })
  })
})
