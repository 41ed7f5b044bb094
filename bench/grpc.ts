// keel/grpc over loopback, side by side with grpc-js on the same servers (DESIGN §2.3, issue 12):
// - unary throughput through keel vs one grpc-js client to one server (goal ≥ 0.95×), and keel
//   vs grpc-js `round_robin` over the same three servers; with client CPU per call, the true
//   overhead (the servers share one process, so calls/s also measures them);
// - p99 with one of three servers 20× slower (10 ms vs 200 ms), keel's p2c-ewma vs grpc-js
//   round_robin (goal ≥ 5× lower).
// Topology: the servers run in a child process (one process, all servers); the client in this one.
// Run: ./node_modules/.bin/node bench/grpc.ts
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import {
  type Client,
  credentials,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { createGrpcClient, unary } from '../src/adapters/grpc.ts'
import { Balancer, type PickerName } from '../src/index.ts'
import { fmt, median, table } from './lib.ts'

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

function keelClient(name: string, ports: number[], picker: PickerName): Subject {
  const balancer = new Balancer({ endpoints: ports.map((p) => `127.0.0.1:${p}`), picker })
  const client = createGrpcClient(balancer, Echo, insecure)
  const call = unary(client.Unary as Function)
  return { name, call: () => call(request), close: () => balancer.close() }
}

/** Closed loop of `concurrency` workers for `ms`; returns calls/s and client CPU µs per call. */
async function throughput(call: Call, concurrency: number, ms: number): Promise<{ rate: number; cpu: number }> {
  let calls = 0
  let running = true
  const worker = async () => {
    while (running) {
      await call()
      calls++
    }
  }
  const cpu = process.cpuUsage()
  const started = performance.now()
  const workers = Array.from({ length: concurrency }, worker)
  await new Promise((resolve) => setTimeout(resolve, ms))
  running = false
  await Promise.all(workers)
  const elapsed = performance.now() - started
  const used = process.cpuUsage(cpu)
  return { rate: (calls / elapsed) * 1000, cpu: (used.user + used.system) / calls }
}

/** `total` calls from `concurrency` workers; returns each call's latency in ms. */
async function latencies(call: Call, concurrency: number, total: number): Promise<number[]> {
  const samples: number[] = []
  let next = 0
  const worker = async () => {
    while (next++ < total) {
      const started = performance.now()
      await call()
      samples.push(performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return samples.sort((a, b) => a - b)
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

async function startServers(delays: number[]): Promise<{ ports: number[]; stop(): void }> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', ...delays.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  process.once('exit', () => child.kill())
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))
  return { ports: JSON.parse(line) as number[], stop: () => child.kill() }
}

async function main(): Promise<void> {
  const ROUNDS = 5
  const CONCURRENCY = 32
  const WINDOW = 2_000
  const fast = await startServers([0, 0, 0])
  const [a, b, c] = fast.ports as [number, number, number]
  const subjects: Subject[] = [
    grpcClient('grpc-js client → 1 server', `ipv4:127.0.0.1:${a}`, false),
    keelClient('keel p2c-ewma → 1 server (same one)', [a], 'p2c-ewma'),
    grpcClient('grpc-js round_robin → 3 servers', `ipv4:127.0.0.1:${a},127.0.0.1:${b},127.0.0.1:${c}`, true),
    keelClient('keel p2c-ewma → 3 servers', [a, b, c], 'p2c-ewma'),
    keelClient('keel round-robin → 3 servers', [a, b, c], 'round-robin'),
  ]
  for (const s of subjects) await throughput(s.call, CONCURRENCY, 500) // connect and warm up
  const rates = subjects.map(() => [] as number[])
  const cpus = subjects.map(() => [] as number[])
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so drift on a shared machine hits every subject alike.
    for (const [i, s] of subjects.entries()) {
      const { rate, cpu } = await throughput(s.call, CONCURRENCY, WINDOW)
      rates[i]!.push(rate)
      cpus[i]!.push(cpu)
    }
  }
  for (const s of subjects) await s.close()
  fast.stop()
  const rate = rates.map(median)
  const cpu = cpus.map(median)
  const ratio = (i: number, base: number) => `${(rate[i]! / rate[base]!).toFixed(2)}×`
  const throughputRows = subjects.map((s, i) => [
    s.name,
    fmt(rate[i]!),
    fmt(cpu[i]!, 1),
    i === 1 ? ratio(1, 0) : i >= 3 ? ratio(i, 2) : '—',
  ])

  const slow = await startServers([10, 10, 200])
  const [f1, f2, s1] = slow.ports as [number, number, number]
  const TOTAL = 8_000
  const LAT_CONCURRENCY = 16
  const latencySubjects = [
    grpcClient('grpc-js round_robin', `ipv4:127.0.0.1:${f1},127.0.0.1:${f2},127.0.0.1:${s1}`, true),
    keelClient('keel p2c-ewma', [f1, f2, s1], 'p2c-ewma'),
  ]
  const p: { p50: number[]; p99: number[] }[] = latencySubjects.map(() => ({ p50: [], p99: [] }))
  for (const s of latencySubjects) await latencies(s.call, LAT_CONCURRENCY, 2_000) // connect and warm up
  for (let round = 0; round < 3; round++) {
    for (const [i, s] of latencySubjects.entries()) {
      const sorted = await latencies(s.call, LAT_CONCURRENCY, TOTAL)
      p[i]!.p50.push(quantile(sorted, 0.5))
      p[i]!.p99.push(quantile(sorted, 0.99))
    }
  }
  for (const s of latencySubjects) await s.close()
  slow.stop()
  const p99 = p.map((x) => median(x.p99))
  const latencyRows = latencySubjects.map((s, i) => [
    s.name,
    fmt(median(p[i]!.p50), 2),
    fmt(p99[i]!, 2),
    i === 1 ? `${(p99[0]! / p99[1]!).toFixed(1)}× lower` : '—',
  ])

  console.log(
    `Node ${process.version}; servers: grpc-js in one child process on 127.0.0.1; client: this process, insecure channels\n`,
  )
  console.log(
    `Unary throughput: ${CONCURRENCY} calls in flight, ${ROUNDS} interleaved ${WINDOW / 1000} s windows, median\n`,
  )
  console.log(table(['client', 'calls / s', 'client CPU µs / call', 'ratio'], throughputRows))
  console.log(
    `\nLatency, one server of three 20× slower (10, 10, 200 ms): ${LAT_CONCURRENCY} in flight, ${TOTAL.toLocaleString('en-US')} calls × 3 interleaved runs, median\n`,
  )
  console.log(table(['client', 'p50 ms', 'p99 ms', 'p99 vs round_robin'], latencyRows))
}

if (process.argv[2] === '--serve') await serve(process.argv.slice(3).map(Number))
else await main()
