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
