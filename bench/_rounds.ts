/**
 * How the loopback client benchmarks (`bench/http.ts`, `bench/http-agent.ts`, `bench/http-axios.ts`,
 * `bench/grpc.ts`) measure clients side by side on a small shared machine
 * (docs/benchmarks.md#how-the-loopback-benchmarks-measure):
 *
 * - **Families in their own processes.** Clients compared with one another (undici's; global
 *   fetch's; node:http's) run in one child process per family (`bench/http-axios.ts` and
 *   `bench/grpc.ts` measure one family, in their own process). Global fetch allocates about ten
 *   times what an undici Pool does per request; in one process its garbage made every later
 *   collection dearer and charged the undici clients 3.4–5.6 µs of collector pauses per request
 *   instead of ≈ 0.8, more to the ones that allocate more, which inflated their differences. Not
 *   one process per client: alone, a process settles into one of two collector regimes (≈ 0.3 or
 *   ≈ 5 µs of pauses per request for the same undici client, by process, not by client), which
 *   split clients of one kind by up to 30%; clients sharing a process share its regime.
 * - **Short slices in a balanced order.** Within a family the clients take turns in slices of a
 *   quarter second; a ratio pairs a client with its baseline in the same round. On a virtual
 *   machine whose host lends it a core at times at half speed, short slices let both members of a
 *   pair see the same machine; one-second slices 10 s apart did not. The order of each round comes
 *   from a Williams design (`roundOrder`): a slice inherits what the one before it left (its
 *   garbage, the caches it filled), and a plain rotation gave each client the same predecessor in
 *   every round.
 */
import { execFile } from 'node:child_process'
import { PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { latencies, median, quantile, signed, withInterval } from './lib.ts'

export interface BenchClient {
  readonly name: string
  /** What must be in place while it runs (a global dispatcher). */
  readonly before?: () => void
  readonly one: () => Promise<unknown>
}

/** One slice of one client. */
export interface Slice {
  readonly rps: number
  /** This process's CPU time per request, µs (user + system). */
  readonly cpu: number
  readonly p50: number
  readonly p99: number
  /** Garbage-collection pause time per request, µs (part of `cpu`). */
  readonly gc: number
}

export interface RoundOptions {
  readonly rounds: number
  readonly sliceMs: number
  readonly concurrency: number
  /** First run of each client (connections, JIT). @default 500 */
  readonly warmupMs?: number
}

/**
 * The order of the clients in `round`: a row of a Williams design (E. J. Williams, "Experimental
 * designs balanced for the estimation of residual effects of treatments", 1949), a Latin square
 * in which every client runs right after every other one equally often — over `n` rounds for an
 * even `n`, over `2n` (each row also reversed) for an odd one. Each client also takes each
 * position equally often.
 */
export function roundOrder(n: number, round: number): number[] {
  const row = round % (n % 2 === 0 ? n : 2 * n)
  const shift = row % n
  const order: number[] = []
  // The first row is 0, 1, n − 1, 2, n − 2, …; row r adds r to every entry.
  for (let k = 0; k < n; k++) order.push(((k % 2 === 1 ? (k + 1) / 2 : n - k / 2) + shift) % n)
  return row < n ? order : order.reverse()
}

/**
 * Runs `clients` in `rounds` rounds of one slice each, in `roundOrder`; returns every client's
 * slices in round order.
 */
export async function measureRounds(
  clients: readonly BenchClient[],
  { rounds, sliceMs, concurrency, warmupMs = 500 }: RoundOptions,
): Promise<Record<string, Slice[]>> {
  for (const client of clients) {
    client.before?.()
    await latencies(client.one, concurrency, warmupMs)
  }
  const slices: Record<string, Slice[]> = Object.fromEntries(clients.map((c) => [c.name, []]))
  let gcMs = 0
  const collections = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  collections.observe({ entryTypes: ['gc'] })
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(clients.length, round)) {
      const client = clients[i]!
      client.before?.()
      // Reopens connections an idle slice let time out, outside the measured slice.
      await latencies(client.one, concurrency, Math.min(50, sliceMs / 5))
      const gcBefore = gcMs
      const before = process.cpuUsage()
      const samples = await latencies(client.one, concurrency, sliceMs)
      const used = process.cpuUsage(before)
      // A collection's entry reaches the observer a few loop turns after it: let them arrive.
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
      slices[client.name]!.push({
        rps: samples.length / (sliceMs / 1000),
        cpu: (used.user + used.system) / samples.length,
        p50: quantile(samples, 0.5),
        p99: quantile(samples, 0.99),
        gc: ((gcMs - gcBefore) * 1000) / samples.length,
      })
    }
  }
  collections.disconnect()
  return slices
}

/**
 * `--slice-ms` (250), `--rounds` (24) and `--concurrency` (32) from `args`, the options every
 * loopback client benchmark takes; other options are the bench's own.
 */
export function roundArgs(args: string[] = process.argv.slice(2)): RoundOptions {
  const { values } = parseArgs({
    args,
    strict: false,
    options: {
      'slice-ms': { type: 'string', default: '250' },
      rounds: { type: 'string', default: '24' },
      concurrency: { type: 'string', default: '32' },
    },
  })
  return {
    sliceMs: Number(values['slice-ms']),
    rounds: Number(values.rounds),
    concurrency: Number(values.concurrency),
  }
}

/**
 * `--runs` (1): how many times a bench makes its whole measurement, each time in new processes.
 * A run's rounds cannot show what moves a whole run (how its process's JIT and connections
 * settled, what else the host ran then); several runs pooled can (docs/benchmarks.md).
 */
export function runsArg(args: string[] = process.argv.slice(2)): number {
  const runs = Number(
    parseArgs({ args, strict: false, options: { runs: { type: 'string', default: '1' } } }).values.runs,
  )
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${runs}`)
  return runs
}

/**
 * Measures `families` of `script` (each in a child process of its own, `runFamily`) `runs` times,
 * the families' order reversed every other run; returns every client's slices of every run,
 * appended run after run under `key(family, name)`, so round i of a client still pairs with round
 * i of its baseline, both measured in the same run and round.
 */
export async function pooledRuns(
  script: string,
  families: readonly string[],
  context: unknown,
  runs: number,
  key: (family: string, name: string) => string = (_family, name) => name,
): Promise<Record<string, Slice[]>> {
  const slices: Record<string, Slice[]> = {}
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 1 ? [...families].reverse() : families
    for (const family of order) {
      console.error(`run ${run + 1} of ${runs}: measuring the ${family} clients…`)
      for (const [name, own] of Object.entries(await runFamily(script, family, context))) {
        const k = key(family, name)
        slices[k] = [...(slices[k] ?? []), ...own]
      }
    }
  }
  return slices
}

/** The median of each run's share of `values`: `runs` runs of `rounds` samples each, run after run. */
function perRunMedians(values: readonly number[], runs: number, rounds: number): number[] {
  return Array.from({ length: runs }, (_, run) => median(values.slice(run * rounds, (run + 1) * rounds)))
}

/**
 * A client's cells in a per-run table, from its per-round `ratios` and CPU `deltas` (pooled by
 * `pooledRuns`): the median of the runs' own ratio medians with its interval (under 6 runs, their
 * range), each run's; the same for the CPU difference.
 */
export function perRunCells(
  ratios: readonly number[],
  deltas: readonly number[],
  runs: number,
  rounds: number,
): string {
  const r = perRunMedians(ratios, runs, rounds)
  const d = perRunMedians(deltas, runs, rounds)
  return (
    `${withInterval(r, (x) => `${x.toFixed(2)}×`)} | ${r.map((x) => x.toFixed(2)).join(', ')} | ` +
    `${withInterval(d, (x) => signed(x))} | ${d.map((x) => signed(x)).join(', ')}`
  )
}

const FAMILY = 'KEEL_BENCH_FAMILY'
const CONTEXT = 'KEEL_BENCH_CONTEXT'

/** In a family's child process: its family and the context the parent passed; undefined in the parent. */
export function childOf<T>(): { readonly family: string; readonly context: T } | undefined {
  const family = process.env[FAMILY]
  return family === undefined ? undefined : { family, context: JSON.parse(process.env[CONTEXT] ?? 'null') as T }
}

/** In a family's child process: hands the slices to the parent (the last line of stdout). */
export function report(slices: Record<string, Slice[]>): void {
  process.stdout.write(`${JSON.stringify(slices)}\n`)
}

/**
 * Runs `script` again in a child process for `family` with the same Node and flags; resolves
 * with the slices it reports. The child's stderr (progress) passes through.
 */
export function runFamily(script: string, family: string, context: unknown): Promise<Record<string, Slice[]>> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [...process.execArgv, script, ...process.argv.slice(2)],
      { env: { ...process.env, [FAMILY]: family, [CONTEXT]: JSON.stringify(context) }, maxBuffer: 64 << 20 },
      (error, stdout) => {
        if (error !== null) return reject(error)
        const last = stdout.trim().split('\n').at(-1) ?? ''
        try {
          resolve(JSON.parse(last) as Record<string, Slice[]>)
        } catch {
          reject(new Error(`${family}: no slices in the child's output: ${last.slice(0, 200)}`))
        }
      },
    )
    child.stderr?.pipe(process.stderr)
  })
}
