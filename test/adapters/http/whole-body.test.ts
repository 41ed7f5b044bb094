import { describe, expect, it } from 'vitest'
import { HOLD_LIMIT, heldWhole, rawHeldWhole } from '../../../src/adapters/http/whole-body.ts'

const raw = (...pairs: string[]): Buffer[] => pairs.map((s) => Buffer.from(s, 'latin1'))

describe('rawHeldWhole: a Content-Length read from raw header bytes', () => {
  it('holds what heldWhole holds, for the same value as bytes and as a string', () => {
    const values = ['0', '2', '65536', '65537', '999999', '1000000', '', ' 2', '2 ', '+2', '1e3', '0x10', 'abc', '-1']
    for (const value of values) {
      const expected = heldWhole(value)
      expect(rawHeldWhole(raw('Content-Length', value)), `bytes ${JSON.stringify(value)}`).toBe(expected)
      expect(rawHeldWhole(['content-length', value]), `string ${JSON.stringify(value)}`).toBe(expected)
    }
    expect(heldWhole(String(HOLD_LIMIT))).toBe(true)
    expect(heldWhole(String(HOLD_LIMIT + 1))).toBe(false)
    expect(values.filter((value) => rawHeldWhole(raw('Content-Length', value)))).toEqual([
      '0',
      '2',
      '65536',
      ' 2',
      '2 ',
      '+2',
      '1e3',
      '0x10',
    ])
  })

  it('finds the name in any letter case among other headers, the first one deciding', () => {
    const nginx = raw(
      'Server',
      'nginx',
      'Date',
      'Sat, 05 Dec 2026 13:40:00 GMT',
      'CONTENT-LENGTH',
      '2',
      'Connection',
      'keep-alive',
    )
    expect(rawHeldWhole(nginx)).toBe(true)
    expect(rawHeldWhole(raw('content-length', '70000', 'Content-Length', '2'))).toBe(false)
    expect(rawHeldWhole(raw('Content-Type', 'text/plain', 'Transfer-Encoding', 'chunked'))).toBe(false)
  })

  it('matches no other 14-byte name, nor one that differs by a control byte', () => {
    expect(rawHeldWhole(raw('Content-Lengtx', '2'))).toBe(false)
    expect(rawHeldWhole(raw('content\rlength', '2'))).toBe(false)
    expect(rawHeldWhole(raw('Content-Lengths', '2'))).toBe(false)
  })

  it('holds nothing without headers', () => {
    expect(rawHeldWhole(null)).toBe(false)
    expect(rawHeldWhole(undefined)).toBe(false)
    expect(rawHeldWhole([])).toBe(false)
    expect(rawHeldWhole(raw('Content-Length'))).toBe(false)
  })
})
