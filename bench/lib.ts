/**
 * Small helpers shared by the benchmarks: medians and quantiles, repeated timed runs, closed
 * loops, markdown tables.
 */
import http from 'node:http'
import { closedLoop } from '../test/helpers/closed-loop.ts'

// The load generator is the integration tests' own: one closed loop for tests and benchmarks.
export { closedLoop }

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * A distribution-free confidence interval for the median of `values` (independent samples, any
 * distribution): the k-th smallest and k-th largest samples, with k the largest rank for which
 * P(Binomial(n, ½) < k) ≤ (1 − `level`) / 2. Whatever the per-round noise looks like, the true
 * median lies inside with at least that probability (24 samples: the 7th and 18th, 96.8%). With
 * fewer than 6 samples no pair reaches 95%: the whole range is returned.
 */
export function medianInterval(values: readonly number[], level = 0.95): [low: number, high: number] {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  const tail = (1 - level) / 2
  // P(X ≤ j) for X ~ Binomial(n, ½), summed term by term: C(n, j) / 2^n.
  let term = 0.5 ** n
  let below = 0
  let k = 1
  for (let j = 0; j < n; j++) {
    below += term
    if (below > tail) break
    // Coverage of [x_(j+1), x_(n−j)] is 1 − 2 P(X ≤ j): still at least `level`.
    k = j + 1
    term = (term * (n - j)) / (j + 1)
  }
  k = Math.min(k, n >> 1 || 1)
  return [sorted[k - 1]!, sorted[n - k]!]
}

/** `+1.2` / `−1.2` (a true minus sign) with `digits` decimals; `+1,234` with none. */
export function signed(value: number, digits = 1): string {
  const magnitude = digits === 0 ? Math.round(Math.abs(value)).toLocaleString('en-US') : Math.abs(value).toFixed(digits)
  return (value >= 0 ? '+' : '−') + magnitude
}

/** The median of `values` and its 95% interval (`medianInterval`), each shown by `show`: `0.95× (0.90× to 1.06×)`. */
export function withInterval(values: readonly number[], show: (x: number) => string): string {
  const [low, high] = medianInterval(values)
  return `${show(median(values))} (${show(low)} to ${show(high)})`
}

/** The `q`-quantile of ascending `sorted` by nearest rank: the least sample with `q` of all at or below it. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export interface TimedRuns {
  /** Timed runs; the median is reported. @default 7 */
  readonly runs?: number
  /** Iterations of the untimed warm-up run. @default a quarter of `iterations` */
  readonly warmup?: number
  /**
   * `'cpu'` times by this process's CPU time: on a shared machine, wall time also counts the time
   * other processes hold the core. @default 'wall'
   */
  readonly timer?: 'wall' | 'cpu'
}

/** Runs `body(iterations)` `runs` times after a warm-up; returns the median ns per iteration. */
export async function nsPerOp(
  body: (iterations: number) => Promise<void> | void,
  iterations: number,
  { runs = 7, warmup = Math.max(1, iterations >> 2), timer = 'wall' }: TimedRuns = {},
): Promise<number> {
  await body(warmup)
  const samples: number[] = []
  for (let r = 0; r < runs; r++) {
    if (timer === 'cpu') {
      const start = process.cpuUsage()
      await body(iterations)
      const used = process.cpuUsage(start)
      samples.push(((used.user + used.system) * 1000) / iterations)
    } else {
      const start = process.hrtime.bigint()
      await body(iterations)
      samples.push(Number(process.hrtime.bigint() - start) / iterations)
    }
  }
  return median(samples)
}

/**
 * Calls `one` from `concurrency` workers for `ms`, each starting its next call when its last one
 * ends (a closed loop); returns every call's latency in ms, ascending. Throws the first failure.
 */
export async function latencies(one: () => Promise<unknown>, concurrency: number, ms: number): Promise<number[]> {
  const samples: number[] = []
  const { errors } = await closedLoop(Number.POSITIVE_INFINITY, concurrency, async () => void (await one()), {
    until: performance.now() + ms,
    latencies: samples,
  })
  if (errors.length > 0) throw errors[0]
  return samples.sort((a, b) => a - b)
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** One GET with `http.request` through `agent`, its body read whole. */
export function httpGet(url: string, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.on('data', () => {})
        res.on('end', resolve)
        res.on('error', reject)
      })
      .on('error', reject)
  })
}
