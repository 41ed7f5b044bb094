// The statistics the benchmarks report their figures with (bench/_rounds.ts, bench/lib.ts): a
// benchmark is not a test, but the order it measures in and the interval it prints must be right.
import { describe, expect, it } from 'vitest'
import { roundOrder } from '../bench/_rounds.ts'
import { medianInterval, signed, withInterval } from '../bench/lib.ts'

describe('roundOrder (Williams design)', () => {
  it.each([1, 2, 3, 4, 5, 6, 9, 10])('balances order and position for %i clients', (n) => {
    const cycle = n % 2 === 0 ? n : 2 * n
    const follows = new Map<string, number>()
    const positions = Array.from({ length: n }, () => new Array<number>(n).fill(0))
    for (let round = 0; round < cycle; round++) {
      const order = roundOrder(n, round)
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
      for (let position = 0; position < n; position++) positions[order[position]!]![position]!++
      for (let k = 1; k < n; k++) {
        const pair = `${order[k - 1]}>${order[k]}`
        follows.set(pair, (follows.get(pair) ?? 0) + 1)
      }
      // The design repeats: the next cycle's round is the same row.
      expect(roundOrder(n, round + cycle)).toEqual(order)
    }
    // Every ordered pair of distinct clients is adjacent, equally often.
    expect(follows.size).toBe(n * (n - 1))
    expect(new Set(follows.values()).size).toBeLessThanOrEqual(1)
    // Every client takes every position equally often.
    expect(new Set(positions.flat())).toEqual(new Set([cycle / n]))
  })
})

/** P(X ≤ j) for X ~ Binomial(n, ½), from the exact counts. */
function binomialAtMost(n: number, j: number): number {
  let sum = 0
  let choose = 1
  for (let i = 0; i <= j; i++) {
    sum += choose
    choose = (choose * (n - i)) / (i + 1)
  }
  return sum / 2 ** n
}

describe('medianInterval', () => {
  // The ranks of the usual tables for a 95% interval of the median.
  it.each([
    [6, 1],
    [10, 2],
    [20, 6],
    [24, 7],
    [30, 10],
    [72, 28],
  ])('takes the ranks of the tables for %i samples (k = %i)', (n, k) => {
    // Shuffled, so the order the samples come in cannot matter.
    const values = Array.from({ length: n }, (_, i) => ((i * 7) % n) + 1)
    expect(medianInterval(values)).toEqual([k, n - k + 1])
    // At least 95% coverage, and the next rank inward would fall short of it.
    expect(1 - 2 * binomialAtMost(n, k - 1)).toBeGreaterThanOrEqual(0.95)
    expect(1 - 2 * binomialAtMost(n, k)).toBeLessThan(0.95)
  })

  it('returns the whole range when too few samples reach 95%', () => {
    expect(medianInterval([3, 1, 2])).toEqual([1, 3])
    expect(medianInterval([5, 4, 1, 2, 3])).toEqual([1, 5])
  })

  it('widens with the level', () => {
    const values = Array.from({ length: 40 }, (_, i) => i)
    const [low95, high95] = medianInterval(values, 0.95)
    const [low99, high99] = medianInterval(values, 0.99)
    expect(low99).toBeLessThan(low95)
    expect(high99).toBeGreaterThan(high95)
  })
})

describe('the figures the tables print', () => {
  it('signs with a true minus sign, and groups whole numbers', () => {
    expect([signed(1.25), signed(-0.04, 2), signed(-1234.4, 0), signed(0)]).toEqual(['+1.3', '−0.04', '−1,234', '+0.0'])
  })

  it('shows a median with its interval', () => {
    const values = Array.from({ length: 24 }, (_, i) => i + 1)
    expect(withInterval(values, (x) => `${x}`)).toBe('12.5 (7 to 18)')
  })
})
