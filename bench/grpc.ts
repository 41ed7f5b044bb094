// keel/grpc over loopback, side by side with grpc-js on the same servers (docs/benchmarks.md#grpc,
// docs/grpc.md):
// - unary throughput and client CPU per call: keel against one grpc-js client to one server, and
//   keel against a grpc-js client with the `round_robin` load-balancing config over the same three
//   servers (what a grpc-js user would pick instead; goal: within 5%). The clients take turns in
//   short slices in a balanced order (bench/_rounds.ts says why); ratios and CPU differences are
//   medians of per-round pairs (the servers share the cores, so calls/s also measures them);
// - p99 with one of three servers 20× slower (10 ms vs 200 ms), keel's p2c-ewma vs grpc-js
//   round_robin (goal ≥ 5× lower).
// Topology: the servers run in a child process (one process, all servers); the client in this one.
// Run: ./node_modules/.bin/node bench/grpc.ts [--rounds 24] [--slice-ms 250] [--concurrency 32] (about 2 minutes)
import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import {
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { createGrpcClient, type GrpcClientOptions, unary } from '../src/adapters/grpc/index.ts'
import { Balancer, type BalancerOptions, type PickerName } from '../src/index.ts'
import { measureRounds, roundArgs } from './_rounds.ts'
import { fmt, latencies, median, nsPerOp, quantile, table } from './lib.ts'

const proto = new URL('../test/fixtures/grpc/echo.proto', import.meta.url).pathname
// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const Echo = (loadPackageDefinition(loadSync(proto)) as any).keel.test.Echo as ServiceClientConstructor
const insecure = credentials.createInsecure()

/** Child mode: one server per delay (ms; 0 answers at once); prints the ports as JSON. */
async function serve(delays: number[]): Promise<void> {
  const ports: number[] = []
  for (const delay of delays) {
    const server = new Server()
    server.addService(Echo.service, {
      Unary: (call: { request: { id: string } }, callback: (e: null, r: object) => void) => {
        const reply = { id: call.request.id, message: '', server: String(delay), index: 0 }
        if (delay === 0) callback(null, reply)
        else setTimeout(() => callback(null, reply), delay)
      },
    })
    ports.push(
      await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      ),
    )
  }
  console.log(JSON.stringify(ports))
}

type Call = () => Promise<unknown>

interface Subject {
  readonly name: string
  readonly call: Call
  close(): Promise<void> | void
}

const request = { id: 'x', message: 'hello', count: 0 }

function grpcClient(name: string, target: string, roundRobin: boolean): Subject {
  const options = roundRobin
    ? { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) }
    : {}
  const client = new Echo(target, insecure, options) as Client & Record<string, Function>
  const call = unary(client.Unary!.bind(client))
  return { name, call: () => call(request), close: () => client.close() }
}

function keelClient(
  name: string,
  ports: number[],
  picker: PickerName,
  options: BalancerOptions = {},
  grpcOptions: GrpcClientOptions = {},
): Subject {
  const balancer = new Balancer({ endpoints: ports.map((p) => `127.0.0.1:${p}`), picker, ...options })
  const client = createGrpcClient(balancer, Echo, insecure, grpcOptions)
  const call = unary(client.Unary as Function)
  return { name, call: () => call(request), close: () => balancer.close() }
}

/**
 * keel's own cost per unary call, with grpc-js's transport taken out: a client whose calls answer
 * on the next microtask, with grpc-js's events in grpc-js's order, called directly and through
 * keel (one endpoint, default options), sequentially.
 */
async function stubOverhead(): Promise<{ direct: number; keel: number }> {
  const status = { code: 0, details: 'OK', metadata: new Metadata() }
  const answer = (request: unknown, callback: Function) => {
    const call = Object.assign(new EventEmitter(), { cancel() {}, getPeer: () => 'stub' })
    queueMicrotask(() => {
      call.emit('metadata', status.metadata)
      callback(null, request)
      call.emit('status', status)
    })
    return call
  }
  const Stub = class extends (Echo as unknown as new (...args: unknown[]) => Client) {
    override makeUnaryRequest(...args: unknown[]) {
      return answer(args[3], args.findLast((a) => typeof a === 'function') as Function) as never
    }
  }
  const stub = new Stub('ipv4:127.0.0.1:1', insecure) as unknown as Client & Record<string, Function>
  // `Unary` of a grpc-js client calls Client.prototype.makeUnaryRequest itself: call the stub's.
  const makeUnaryRequest = stub.makeUnaryRequest as (...args: unknown[]) => unknown
  const direct = unary((req: unknown, ...rest: unknown[]) => makeUnaryRequest.call(stub, '', 0, 0, req, ...rest))
  const balancer = new Balancer({ endpoints: ['127.0.0.1:1'] })
  const viaKeel = unary(
    createGrpcClient(balancer, Stub as unknown as ServiceClientConstructor, insecure).Unary as Function,
  )
  const ITERATIONS = 100_000
  const result = {
    direct: await nsPerOp(
      async (n) => {
        for (let i = 0; i < n; i++) await direct(request)
      },
      ITERATIONS,
      { timer: 'cpu' },
    ),
    keel: await nsPerOp(
      async (n) => {
        for (let i = 0; i < n; i++) await viaKeel(request)
      },
      ITERATIONS,
      { timer: 'cpu' },
    ),
  }
  await balancer.close()
  stub.close()
  return result
}

async function startServers(delays: number[]): Promise<{ ports: number[]; stop(): void }> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', ...delays.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  process.once('exit', () => child.kill())
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))
  return { ports: JSON.parse(line) as number[], stop: () => child.kill() }
}

async function main(): Promise<void> {
  const stub = await stubOverhead()
  const { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY } = roundArgs()
  const fast = await startServers([0, 0, 0])
  const [a, b, c] = fast.ports as [number, number, number]
  const three = `ipv4:127.0.0.1:${a},127.0.0.1:${b},127.0.0.1:${c}`
  // Each row's baseline: the grpc-js client over the same servers (index into `subjects`).
  const subjects: (Subject & { baseline: number })[] = [
    { ...grpcClient('grpc-js client → 1 server', `ipv4:127.0.0.1:${a}`, false), baseline: 0 },
    { ...keelClient('keel p2c-ewma → 1 server (same one)', [a], 'p2c-ewma'), baseline: 0 },
    { ...grpcClient('grpc-js round_robin → 3 servers', three, true), baseline: 2 },
    { ...keelClient('keel round-robin → 3 servers', [a, b, c], 'round-robin'), baseline: 2 },
    { ...keelClient('keel p2c-ewma (default) → 3 servers', [a, b, c], 'p2c-ewma'), baseline: 2 },
    {
      ...keelClient('keel round-robin, unaryTimeout: 0 → 3 servers', [a, b, c], 'round-robin', {}, { unaryTimeout: 0 }),
      baseline: 2,
    },
  ]
  const load = [loadavg()[0]!]
  const slices = await measureRounds(
    subjects.map((s) => ({ name: s.name, one: s.call })),
    { rounds: ROUNDS, sliceMs: SLICE_MS, concurrency: CONCURRENCY },
  )
  load.push(loadavg()[0]!)
  const rates = subjects.map((s) => slices[s.name]!.map((slice) => slice.rps))
  const cpus = subjects.map((s) => slices[s.name]!.map((slice) => slice.cpu))
  for (const s of subjects) await s.close()
  fast.stop()
  const paired = (series: number[][], i: number, f: (x: number, base: number) => number) =>
    median(series[i]!.map((x, r) => f(x, series[subjects[i]!.baseline]![r]!)))
  const throughputRows = subjects.map((s, i) => [
    s.name,
    fmt(median(rates[i]!)),
    fmt(median(cpus[i]!), 1),
    s.baseline === i ? '—' : `${paired(rates, i, (x, base) => x / base).toFixed(2)}×`,
    s.baseline === i
      ? '—'
      : `${paired(cpus, i, (x, base) => x - base) >= 0 ? '+' : ''}${fmt(
          paired(cpus, i, (x, base) => x - base),
          1,
        )}`,
    s.baseline === i ? '—' : `${paired(cpus, i, (x, base) => x / base).toFixed(2)}×`,
  ])

  const slow = await startServers([10, 10, 200])
  const [f1, f2, s1] = slow.ports as [number, number, number]
  const RUN = 4_000
  const latencySubjects = [
    grpcClient('grpc-js round_robin', `ipv4:127.0.0.1:${f1},127.0.0.1:${f2},127.0.0.1:${s1}`, true),
    keelClient('keel p2c-ewma', [f1, f2, s1], 'p2c-ewma'),
  ]
  const latencyRows: string[][] = []
  for (const concurrency of [4, 16]) {
    const p: { p50: number[]; p99: number[]; calls: number }[] = latencySubjects.map(() => ({
      p50: [],
      p99: [],
      calls: 0,
    }))
    for (const s of latencySubjects) await latencies(s.call, concurrency, 1_000) // connect and warm up
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of latencySubjects.entries()) {
        const sorted = await latencies(s.call, concurrency, RUN)
        p[i]!.p50.push(quantile(sorted, 0.5))
        p[i]!.p99.push(quantile(sorted, 0.99))
        p[i]!.calls += sorted.length
      }
    }
    const p99 = p.map((x) => median(x.p99))
    for (const [i, s] of latencySubjects.entries()) {
      latencyRows.push([
        String(concurrency),
        s.name,
        fmt(p[i]!.calls / 3),
        fmt(median(p[i]!.p50), 1),
        fmt(p99[i]!, 1),
        i === 1 ? `${(p99[0]! / p99[1]!).toFixed(1)}× lower` : '—',
      ])
    }
  }
  for (const s of latencySubjects) await s.close()
  slow.stop()

  console.log(
    `Node ${process.version}; servers: grpc-js in one child process on 127.0.0.1; client: this process, insecure channels; ` +
      `load average ${median(load).toFixed(1)} (${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}) during the rounds\n`,
  )
  console.log(
    `Unary throughput: ${CONCURRENCY} calls in flight, ${ROUNDS} rounds of one ${SLICE_MS} ms slice per client in a balanced order, median; ` +
      'ratio, CPU over and CPU ratio: medians of per-round pairs with the grpc-js row over the same servers\n',
  )
  console.log(
    table(['client', 'calls / s', 'client CPU µs / call', 'ratio', 'CPU over µs / call', 'CPU ratio'], throughputRows),
  )
  console.log(
    `\nkeel's own cost per unary call, grpc-js's transport stubbed out (sequential calls, median of 7 runs): ${fmt(stub.keel - stub.direct)} ns (${fmt(stub.direct)} ns direct, ${fmt(stub.keel)} ns through keel)`,
  )
  console.log(
    `\nLatency, one server of three 20× slower (10, 10, 200 ms): 3 interleaved ${RUN / 1000} s runs per client, median\n`,
  )
  console.log(table(['in flight', 'client', 'calls / run', 'p50 ms', 'p99 ms', 'p99 vs round_robin'], latencyRows))
}

if (process.argv[2] === '--serve') await serve(process.argv.slice(3).map(Number))
else await main()
