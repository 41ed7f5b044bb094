// What the A/B and allocation benchmarks share (bench/http-ab.ts, bench/http-agent-ab.ts,
// bench/alloc.ts): a fixed number of requests at a fixed concurrency, client CPU per request over
// rounds in a balanced order, and V8's sampling heap profiler counting every object a run allocates.
import type { Session } from 'node:inspector/promises'
import { roundOrder } from './_rounds.ts'
import { median, signed, withInterval } from './lib.ts'

export type Client = readonly [name: string, one: () => Promise<unknown>]

/** Runs `count` requests of `one`, `concurrency` at a time. */
export async function runCount(one: () => Promise<unknown>, count: number, concurrency: number): Promise<void> {
  let left = count
  const worker = async () => {
    while (left > 0) {
      left--
      await one()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}

/**
 * This process's CPU time per request (µs, user + system) of every client, one sample per round;
 * each round's order is a row of a balanced design (`roundOrder`, bench/_rounds.ts), so no client
 * always runs first, last, or after the same client. Each client is warmed up with `warmup`
 * requests first. With `rates`, each client's requests per second of wall time go there too, a
 * sample per round (what a loopback run compares beside the CPU).
 */
export async function cpuRounds(
  clients: readonly Client[],
  options: { rounds: number; requests: number; concurrency: number; warmup: number },
  rates?: Map<string, number[]>,
): Promise<Map<string, number[]>> {
  const { rounds, requests, concurrency, warmup } = options
  for (const [, one] of clients) await runCount(one, warmup, concurrency)
  const cpu = new Map<string, number[]>(clients.map(([name]) => [name, []]))
  for (const [name] of clients) rates?.set(name, [])
  for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(clients.length, round)) {
      const [name, one] = clients[i]!
      const started = performance.now()
      const before = process.cpuUsage()
      await runCount(one, requests, concurrency)
      const used = process.cpuUsage(before)
      cpu.get(name)!.push((used.user + used.system) / requests)
      rates?.get(name)?.push((requests * 1000) / (performance.now() - started))
    }
    console.error(`round ${round + 1}/${rounds} done`)
  }
  return cpu
}

/**
 * A markdown table of each client's median CPU per request and its median per-round Δ to `base`;
 * with `rates`, also its median req/s and the median of its per-round req/s ratios to `base`. Each
 * median of a per-round comparison comes with its 95% interval (`withInterval`, bench/lib.ts).
 */
export function cpuTable(
  cpu: Map<string, number[]>,
  base: string,
  baseLabel: string,
  rates?: Map<string, number[]>,
): string {
  const baseSamples = cpu.get(base)!
  const baseRates = rates?.get(base)
  const lines =
    baseRates === undefined
      ? [`| client | client CPU µs/req | CPU Δ vs ${baseLabel} µs/req (95% CI) |`, '| --- | ---: | ---: |']
      : [
          `| client | req/s | ratio to ${baseLabel} (95% CI) | client CPU µs/req | CPU Δ vs ${baseLabel} µs/req (95% CI) |`,
          '| --- | ---: | ---: | ---: | ---: |',
        ]
  for (const [name, samples] of cpu) {
    const delta = withInterval(
      samples.map((v, i) => v - baseSamples[i]!),
      (x) => signed(x, 2),
    )
    const cpuCells = `${median(samples).toFixed(2)} | ${delta}`
    const own = rates?.get(name)
    if (baseRates === undefined || own === undefined) lines.push(`| ${name} | ${cpuCells} |`)
    else {
      const ratio = withInterval(
        own.map((v, i) => v / baseRates[i]!),
        (x) => `${x.toFixed(2)}×`,
      )
      lines.push(`| ${name} | ${Math.round(median(own)).toLocaleString('en')} | ${ratio} | ${cpuCells} |`)
    }
  }
  return lines.join('\n')
}

interface SamplingNode {
  selfSize: number
  children: SamplingNode[]
}

/**
 * Bytes and objects allocated per request by `count` requests of `one`, from V8's sampling heap
 * profiler with objects collected by minor and major GCs kept. With `interval` 1 every object is
 * sampled (a sample's scale factor 1/(1 − e^(−size/interval)) is 1), so `objects` is exact; a
 * larger interval undercounts objects while bytes stay unbiased, scaled by V8.
 */
export async function allocationPerRequest(
  session: Session,
  one: () => Promise<unknown>,
  count: number,
  concurrency: number,
  interval = 1,
): Promise<{ bytes: number; objects: number }> {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: interval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  await runCount(one, count, concurrency)
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: SamplingNode; samples: unknown[] }
  }
  let bytes = 0
  const stack = [profile.head]
  while (stack.length > 0) {
    const node = stack.pop()!
    bytes += node.selfSize
    stack.push(...node.children)
  }
  return { bytes: bytes / count, objects: profile.samples.length / count }
}
