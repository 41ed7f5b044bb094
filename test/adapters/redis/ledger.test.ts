import { describe, expect, it } from 'vitest'
import { Ledger, type LedgerRule } from '../../../src/addons/redis/ledger.ts'

const RULE: LedgerRule = { quorum: 2, window: 30_000, failureThreshold: 85, requestVolume: 50, maxInstances: 4 }
const E = 'http://10.0.0.1:80'

describe('shared health: the quorum rule', () => {
  it('needs quorum distinct instances within the window', () => {
    const ledger = new Ledger(RULE)
    ledger.ejected('a', E, 1_000)
    expect(ledger.suspect(E, 1_000)).toBeUndefined()
    // The same instance again is still one instance.
    ledger.ejected('a', E, 2_000)
    expect(ledger.suspect(E, 2_000)).toBeUndefined()
    ledger.ejected('b', E, 3_000)
    expect(ledger.suspect(E, 3_000)).toEqual({ rule: 'quorum', instances: 2 })
    // a's last report was at 2 000: it stops counting at 32 000.
    expect(ledger.suspect(E, 31_999)).toEqual({ rule: 'quorum', instances: 2 })
    expect(ledger.suspect(E, 32_000)).toBeUndefined()
  })

  it('a restoration withdraws the instance at once', () => {
    const ledger = new Ledger(RULE)
    ledger.ejected('a', E, 0)
    ledger.ejected('b', E, 0)
    expect(ledger.suspect(E, 10)?.rule).toBe('quorum')
    ledger.restored('b', E, 20)
    expect(ledger.suspect(E, 20)).toBeUndefined()
  })

  it('quorum 3 needs three', () => {
    const ledger = new Ledger({ ...RULE, quorum: 3 })
    ledger.ejected('a', E, 0)
    ledger.ejected('b', E, 0)
    expect(ledger.suspect(E, 0)).toBeUndefined()
    ledger.ejected('c', E, 0)
    expect(ledger.suspect(E, 0)).toEqual({ rule: 'quorum', instances: 3 })
  })
})

describe('shared health: the fleet failure ratio', () => {
  it('suspects an endpoint when a quorum of instances with volume each cross the threshold', () => {
    const ledger = new Ledger(RULE)
    ledger.counted('a', E, 5, 45, 0) // 90 %, volume 50
    expect(ledger.suspect(E, 0)).toBeUndefined()
    ledger.counted('b', E, 3, 47, 0) // 94 %
    expect(ledger.suspect(E, 0)).toEqual({ rule: 'failure-ratio', instances: 2, percent: 92 })
    // Counts age out with the window.
    expect(ledger.suspect(E, 30_000)).toBeUndefined()
  })

  it('ignores instances under the request volume', () => {
    const ledger = new Ledger(RULE)
    ledger.counted('a', E, 0, 49, 0)
    ledger.counted('b', E, 0, 49, 0)
    expect(ledger.suspect(E, 0)).toBeUndefined()
    // Volume adds up over reports within the window.
    ledger.counted('a', E, 0, 1, 10_000)
    ledger.counted('b', E, 0, 1, 10_000)
    expect(ledger.suspect(E, 10_000)).toEqual({ rule: 'failure-ratio', instances: 2, percent: 100 })
  })

  it('a rogue instance whose calls all fail cannot carry the pool, however much it sends', () => {
    const ledger = new Ledger(RULE)
    ledger.counted('rogue', E, 0, 1_000_000, 0)
    ledger.counted('b', E, 100, 0, 0)
    ledger.counted('c', E, 100, 0, 0)
    expect(ledger.suspect(E, 0)).toBeUndefined()
  })

  it('a quorum over the threshold but a pooled ratio under it is not suspect', () => {
    const ledger = new Ledger(RULE)
    ledger.counted('a', E, 7, 43, 0) // 86 %
    ledger.counted('b', E, 7, 43, 0) // 86 %
    ledger.counted('c', E, 1_000, 0, 0) // pooled: 86 / 1 100 = 8 %
    expect(ledger.suspect(E, 0)).toBeUndefined()
  })
})

describe('shared health: bounded memory', () => {
  it('remembers at most maxInstances, and forgets silent ones after the window', () => {
    const ledger = new Ledger(RULE)
    for (const i of ['a', 'b', 'c', 'd']) expect(ledger.ejected(i, E, 0)).toBe(true)
    expect(ledger.ejected('e', E, 0)).toBe(false)
    expect(ledger.instances(0)).toBe(4)
    expect(ledger.ejected('e', E, 30_000)).toBe(true)
    expect(ledger.instances(30_000)).toBe(1)
  })

  it('keeps at most 64 count reports per instance and endpoint', () => {
    const ledger = new Ledger({ ...RULE, requestVolume: 1 })
    for (let t = 0; t < 100; t++) ledger.counted('a', E, 1, 0, t)
    expect(ledger.totals('a', E, 100)).toEqual({ ok: 64, fail: 0 })
  })
})
