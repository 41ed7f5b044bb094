// keel/net against HAProxy `mode tcp` `balance leastconn` (both single-threaded, each in its own
// process) over the same three loopback backends: bulk-transfer throughput and connection rate.
// Then `connect(balancer)` against a plain `net.connect` (connect latency overhead, in process).
// Short runs, alternated, medians; a report, never a pass/fail. `BENCH_QUICK=1` shortens it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '../src/adapters/net/index.ts'
import { Balancer } from '../src/index.ts'
import { fmt, median, table } from './lib.ts'
import { ensureProxies, freePort, haproxyVersion, listening } from './proxies.ts'

const quick = process.env.BENCH_QUICK === '1'
const dir = fileURLToPath(new URL('.', import.meta.url))
const strip = process.features.typescript ? [] : ['--experimental-strip-types']
const children: ChildProcess[] = []
const tmp = mkdtempSync(join(tmpdir(), 'keel-bench-net-'))
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
})

/** Spawns a helper script and resolves with its first line of output. */
function helper(script: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [...strip, '--no-warnings', join(dir, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const eol = out.indexOf('\n')
      if (eol !== -1) resolve(out.slice(0, eol))
    })
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
  })
}

async function haproxy(backendPorts: number[]): Promise<number> {
  const port = await freePort()
  const file = join(tmp, 'haproxy.cfg')
  const { writeFileSync } = await import('node:fs')
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance leastconn
${backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}
`,
  )
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  await listening(port, child)
  return port
}

/** One connection: asks for `bytes`, reads them to the server's FIN; resolves with the count read. */
function fetchBytes(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1' })
    let got = 0
    socket.on('data', (d: Buffer) => {
      got += d.length
    })
    socket.once('connect', () => socket.write(`${bytes}\n`))
    socket.once('end', () => resolve(got))
    socket.once('error', reject)
  })
}

/** MB/s of `streams` parallel downloads of `perStream` bytes each. */
async function throughput(port: number, streams: number, perStream: number): Promise<number> {
  const start = performance.now()
  const got = await Promise.all(Array.from({ length: streams }, () => fetchBytes(port, perStream)))
  const seconds = (performance.now() - start) / 1000
  if (got.some((n) => n !== perStream)) throw new Error(`short read: ${got}`)
  return (streams * perStream) / 1e6 / seconds
}

/** Connections per second: `total` short connections, `concurrency` at a time. */
async function connectionRate(port: number, total: number, concurrency: number): Promise<number> {
  let left = total
  const start = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await fetchBytes(port, 0)
    }),
  )
  return total / ((performance.now() - start) / 1000)
}

const backendPorts = JSON.parse(await helper('_net-backends.ts', ['3'])) as number[]
// `BENCH_NET=connect` runs only the connect() part.
if (process.env.BENCH_NET !== 'connect') await proxies()

async function proxies(): Promise<void> {
  ensureProxies()
  const keelPort = Number(await helper('_net-proxy.ts', [JSON.stringify(backendPorts)]))
  const haproxyPort = await haproxy(backendPorts)

  const rounds = quick ? 3 : 5
  const streams = 4
  const perStream = (quick ? 64 : 256) * 1024 * 1024
  const conns = quick ? 1_000 : 3_000
  const results: Record<string, { mbps: number[]; cps: number[] }> = {
    keel: { mbps: [], cps: [] },
    haproxy: { mbps: [], cps: [] },
  }
  // Warm-up, then alternate so both see the same background load.
  await throughput(keelPort, 2, 16 * 1024 * 1024)
  await throughput(haproxyPort, 2, 16 * 1024 * 1024)
  await connectionRate(keelPort, 300, 16)
  await connectionRate(haproxyPort, 300, 16)
  for (let r = 0; r < rounds; r++) {
    for (const [name, port] of [
      ['keel', keelPort],
      ['haproxy', haproxyPort],
    ] as const) {
      results[name]!.mbps.push(await throughput(port, streams, perStream))
      results[name]!.cps.push(await connectionRate(port, conns, 16))
    }
  }
  const k = { mbps: median(results.keel!.mbps), cps: median(results.keel!.cps) }
  const h = { mbps: median(results.haproxy!.mbps), cps: median(results.haproxy!.cps) }
  console.log(
    table(
      ['proxy (1 thread, 3 backends, leastconn)', 'bulk MB/s (4 streams)', 'connections/s (16 at a time)'],
      [
        ['keel `createProxy`', fmt(k.mbps), fmt(k.cps)],
        [`${haproxyVersion()} \`mode tcp\``, fmt(h.mbps), fmt(h.cps)],
        ['keel ÷ HAProxy', fmt(k.mbps / h.mbps, 2), fmt(k.cps / h.cps, 2)],
      ],
    ),
  )
}

// connect(): sequential connects to one backend, alternating with net.connect, median per round.
const balancer = new Balancer({ endpoints: [`tcp://127.0.0.1:${backendPorts[0]}`], picker: 'least-request' })
const n = quick ? 500 : 2_000
async function plainOnce(): Promise<void> {
  const socket = netConnect({ port: backendPorts[0]!, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.destroy()
}
async function keelOnce(): Promise<void> {
  const socket = await connect(balancer)
  socket.destroy()
}
/**
 * Wall µs and CPU µs (this process: user + system) per connection. On a loaded machine the wall
 * time mostly measures the scheduler; the CPU time is what the client itself spent.
 */
async function timeMany(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn()
  const used = process.cpuUsage(cpu)
  return { wall: Number(process.hrtime.bigint() - start) / n / 1000, cpu: (used.user + used.system) / n }
}
await timeMany(plainOnce)
await timeMany(keelOnce)
const plain: { wall: number; cpu: number }[] = []
const keel: { wall: number; cpu: number }[] = []
for (let r = 0; r < (quick ? 5 : 9); r++) {
  plain.push(await timeMany(plainOnce))
  keel.push(await timeMany(keelOnce))
}
const pw = median(plain.map((x) => x.wall))
const kw = median(keel.map((x) => x.wall))
const pc = median(plain.map((x) => x.cpu))
const kc = median(keel.map((x) => x.cpu))
console.log()
console.log(
  table(
    [
      `connect to 127.0.0.1 (${n} sequential × ${plain.length} rounds, medians)`,
      'wall µs / connection',
      'CPU µs / connection',
    ],
    [
      ['`net.connect` + `connect` event, then `destroy()`', fmt(pw, 1), fmt(pc, 1)],
      ['keel `connect(balancer)`, then `destroy()`', fmt(kw, 1), fmt(kc, 1)],
      ['keel − plain', fmt(kw - pw, 1), fmt(kc - pc, 1)],
    ],
  ),
)
await balancer.close()
const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim()
console.log(
  `\nNode ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (${uptime})`,
)
process.exit(0)
