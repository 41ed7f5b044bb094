// keel/net against HAProxy `mode tcp` `balance leastconn` (both single-threaded, each in its own
// process) over the same three loopback backends: bulk-transfer throughput and connection rate.
// Then `connect(balancer)` against a plain `net.connect` (connect latency overhead, in process).
// Short runs, alternated, medians; a report, never a pass/fail. `BENCH_QUICK=1` shortens it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/** Spawns a helper script; resolves with its first line of output and its pid. */
function helper(script: string, args: string[]): Promise<{ line: string; pid: number }> {
  const child = spawn(process.execPath, [...strip, '--no-warnings', join(dir, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const eol = out.indexOf('\n')
      if (eol !== -1) resolve({ line: out.slice(0, eol), pid: child.pid! })
    })
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
  })
}

/**
 * CPU µs a process has used so far, all its threads, user and kernel (Linux: the first field of
 * each thread's `schedstat`, in ns). On a loaded machine this is the steady figure: wall-clock
 * rates measure the scheduler as much as the proxy.
 */
function cpuMicros(pid: number): number {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1_000
}

/**
 * HAProxy as a user runs it for TCP: `mode tcp`, `balance leastconn`, one thread, defaults
 * otherwise (16 KiB buffers, no `option splice-*`: HAProxy 2.6 copies through user space unless
 * told to splice). `splice` adds `option splice-auto` (kernel splicing where it helps).
 */
async function haproxy(backendPorts: number[], splice = false): Promise<{ port: number; pid: number }> {
  const port = await freePort()
  const file = join(tmp, `haproxy${splice ? '-splice' : ''}.cfg`)
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
  balance leastconn${splice ? '\n  option splice-auto' : ''}
${backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}
`,
  )
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  await listening(port, child)
  return { port, pid: child.pid! }
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

const backendPorts = JSON.parse((await helper('_net-backends.ts', ['3'])).line) as number[]
// `BENCH_NET=connect` runs only the connect() part.
if (process.env.BENCH_NET !== 'connect') await proxies()

interface Proxy {
  readonly name: string
  readonly port: number
  readonly pid: number
  readonly mbps: number[]
  readonly cps: number[]
  /** CPU µs of the proxy process per MB moved, per connection. */
  readonly cpuPerMb: number[]
  readonly cpuPerConn: number[]
}

async function proxies(): Promise<void> {
  ensureProxies()
  const made = (name: string, { port, pid }: { port: number; pid: number }): Proxy => ({
    name,
    port,
    pid,
    mbps: [],
    cps: [],
    cpuPerMb: [],
    cpuPerConn: [],
  })
  const keelProxy = async (src?: string) => {
    const { line, pid } = await helper('_net-proxy.ts', [JSON.stringify(backendPorts), ...(src ? [src] : [])])
    return { port: Number(line), pid }
  }
  const list: Proxy[] = [
    made('keel `createProxy`', await keelProxy()),
    made(`${haproxyVersion()} \`mode tcp\``, await haproxy(backendPorts)),
  ]
  // `BENCH_NET_SPLICE=1` adds HAProxy with `option splice-auto`; `BENCH_NET_BASELINE=/path/to/src`
  // adds keel's proxy from another checkout's `src/` (an A/B in the same run).
  if (process.env.BENCH_NET_SPLICE === '1') {
    list.push(made(`${haproxyVersion()} \`mode tcp\`, \`option splice-auto\``, await haproxy(backendPorts, true)))
  }
  const baseline = process.env.BENCH_NET_BASELINE
  if (baseline) list.push(made(`keel \`createProxy\` from ${baseline}`, await keelProxy(baseline)))

  const rounds = quick ? 3 : 5
  const streams = 4
  const perStream = (quick ? 64 : 256) * 1024 * 1024
  const conns = quick ? 1_000 : 3_000
  // Warm-up, then alternate so every proxy sees the same background load.
  for (const p of list) {
    await throughput(p.port, 2, 16 * 1024 * 1024)
    await connectionRate(p.port, 300, 16)
  }
  const mb = (streams * perStream) / 1e6
  for (let r = 0; r < rounds; r++) {
    for (const p of list) {
      let cpu = cpuMicros(p.pid)
      p.mbps.push(await throughput(p.port, streams, perStream))
      p.cpuPerMb.push((cpuMicros(p.pid) - cpu) / mb)
      cpu = cpuMicros(p.pid)
      p.cps.push(await connectionRate(p.port, conns, 16))
      p.cpuPerConn.push((cpuMicros(p.pid) - cpu) / conns)
    }
  }
  const m = (p: Proxy) => ({
    mbps: median(p.mbps),
    cps: median(p.cps),
    perMb: median(p.cpuPerMb),
    perConn: median(p.cpuPerConn),
  })
  const [k, h] = [m(list[0]!), m(list[1]!)]
  console.log(
    table(
      [
        `proxy (1 thread, 3 backends, leastconn; ${rounds} rounds, medians)`,
        `bulk MB/s (${streams} streams)`,
        'connections/s (16 at a time)',
        'proxy CPU µs / MB',
        'proxy CPU µs / connection',
      ],
      [
        ...list.map((p) => {
          const x = m(p)
          return [p.name, fmt(x.mbps), fmt(x.cps), fmt(x.perMb), fmt(x.perConn)]
        }),
        [
          'keel ÷ HAProxy',
          fmt(k.mbps / h.mbps, 2),
          fmt(k.cps / h.cps, 2),
          fmt(k.perMb / h.perMb, 2),
          fmt(k.perConn / h.perConn, 2),
        ],
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
