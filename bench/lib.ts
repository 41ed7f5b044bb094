/** Small helpers shared by the benchmarks: medians of repeated timed runs, markdown tables. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Runs `body(iterations)` `runs` times after a warm-up; returns the median ns per iteration. */
export async function nsPerOp(
  body: (iterations: number) => Promise<void> | void,
  iterations: number,
  runs = 7,
): Promise<number> {
  await body(Math.max(1, iterations >> 2))
  const samples: number[] = []
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint()
    await body(iterations)
    samples.push(Number(process.hrtime.bigint() - start) / iterations)
  }
  return median(samples)
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
