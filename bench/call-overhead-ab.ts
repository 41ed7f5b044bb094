// The default call path of two keel trees side by side, interleaved in one process: CPU time per
// call (process.cpuUsage), which a busy machine disturbs far less than wall time. Used to show a
// refactor kept `balancer.call`'s cost (docs/benchmarks.md, "Call overhead before and after the
// architecture refactor").
// Run: node bench/call-overhead-ab.ts <tree A> <tree B>   (each a keel checkout with node_modules)
import { fmt, median, table } from './lib.ts'

const [dirA, dirB] = process.argv.slice(2)
if (dirA === undefined || dirB === undefined) throw new Error('usage: node bench/call-overhead-ab.ts <tree A> <tree B>')
const trees = [
  ['A', (await import(`${dirA}/src/index.ts`)).Balancer],
  ['B', (await import(`${dirB}/src/index.ts`)).Balancer],
] as const
const CALLS = 200_000
const ROUNDS = 9
const endpoints = Array.from({ length: 10 }, (_, i) => `http://10.0.0.${i + 1}:8080`)
const fn = async () => 1

async function measure(loop: (n: number) => Promise<void>): Promise<{ cpu: number; wall: number }> {
  await loop(20_000)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await loop(CALLS)
  const wall = Number(process.hrtime.bigint() - t0) / CALLS
  const cpu = process.cpuUsage(cpu0)
  return { cpu: ((cpu.user + cpu.system) * 1000) / CALLS, wall }
}

const rows = new Map<string, { cpu: number[]; wall: number[] }>()
const add = (name: string, r: { cpu: number; wall: number }) => {
  const row = rows.get(name) ?? { cpu: [], wall: [] }
  row.cpu.push(r.cpu)
  row.wall.push(r.wall)
  rows.set(name, row)
}
for (let round = 0; round < ROUNDS; round++) {
  add(
    'bare `await fn()`',
    await measure(async (n) => {
      for (let i = 0; i < n; i++) await fn()
    }),
  )
  for (const [name, Balancer] of trees) {
    const defaults = new Balancer({ endpoints })
    add(
      `${name}: \`call(fn)\`, defaults`,
      await measure(async (n) => {
        for (let i = 0; i < n; i++) await defaults.call(fn)
      }),
    )
    await defaults.close()
    const bare = new Balancer({
      endpoints,
      picker: 'round-robin',
      breaker: false,
      outlierDetection: false,
      retry: false,
    })
    add(
      `${name}: \`call(fn)\`, round-robin, no breakers / outlier / retries`,
      await measure(async (n) => {
        for (let i = 0; i < n; i++) await bare.call(fn)
      }),
    )
    await bare.close()
  }
}
console.log(
  `Node ${process.version}, ${fmt(CALLS)} calls × ${ROUNDS} interleaved rounds, median ns per call (A: ${dirA}, B: ${dirB})\n`,
)
console.log(
  table(
    ['path', 'CPU ns / call', 'wall ns / call'],
    [...rows].map(([name, r]) => [name, fmt(median(r.cpu)), fmt(median(r.wall))]),
  ),
)
