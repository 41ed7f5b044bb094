// One drill, in its own process so nothing of it (sockets, timers, hung calls) survives into the
// next: `node drill.ts ID DIR` starts the three replicas in their namespaces, the proxies and the
// clients, sends paced traffic while the fault plays out, waits for stragglers up to the cap, and
// prints one JSON line of results. The orchestrator (run.ts) kills whatever pid this process
// registered in DIR/pids if it dies or is interrupted.
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { CLIENTS, type ClientName, type Subject, startClients } from './clients.ts'
import { DRILLS } from './faults.ts'
import { clearDrops, dropPackets, nsName, REPLICAS } from './netns.ts'

const [id, dir] = process.argv.slice(2) as [string, string]
const drill = DRILLS.find((d) => d.id === id)
if (drill === undefined) throw new Error(`unknown drill ${id}`)
const WINDOW = Number(process.env.DRILL_WINDOW ?? 6_000)
const CAP = Number(process.env.DRILL_CAP ?? 20_000)
const READMIT_MAX = Number(process.env.DRILL_READMIT_MAX ?? 10_000)
const WORKERS = Number(process.env.DRILL_WORKERS ?? 3)
const PACE = Number(process.env.DRILL_PACE ?? 25)
const HUNG = 5_000
const pids = join(dir, 'pids')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Stats {
  counts: Record<string, number>
  firstAt: Record<string, number>
  listenAt: number
  postIds: string[]
}

class Replica {
  readonly index: number
  readonly #delay: number
  #child: ChildProcess | undefined
  #lines: Interface | undefined
  #waiters: ((line: string) => void)[] = []
  /** Stats of earlier incarnations (before a kill), and of the current one once read. */
  readonly past: Stats[] = []

  constructor(index: number, delay: number) {
    this.index = index
    this.#delay = delay
  }

  async start(): Promise<number> {
    const args = ['netns', 'exec', nsName(this.index), process.execPath]
    if (!process.features.typescript) args.push('--experimental-strip-types')
    args.push('--no-warnings', new URL('./backend.ts', import.meta.url).pathname)
    if (this.#delay > 0) args.push('--delay', String(this.#delay))
    const child = spawn('ip', args, { stdio: ['pipe', 'pipe', 'inherit'] })
    appendFileSync(pids, `${child.pid}\n`)
    this.#child = child
    this.#lines = createInterface({ input: child.stdout! })
    this.#lines.on('line', (line) => this.#waiters.shift()?.(line))
    const ready = JSON.parse(await this.#next()) as { listenAt: number }
    return ready.listenAt
  }

  #next(): Promise<string> {
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  send(command: object): void {
    this.#child?.stdin?.write(`${JSON.stringify(command)}\n`)
  }

  async stats(): Promise<Stats> {
    this.#child!.stdin!.write('stats\n')
    return JSON.parse(await this.#next()) as Stats
  }

  async kill(): Promise<void> {
    this.past.push(await this.stats())
    const child = this.#child!
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async stop(): Promise<void> {
    if (this.#child === undefined || this.#child.exitCode !== null) return
    this.past.push(await this.stats())
    this.#child.stdin!.end()
    this.#child.kill('SIGKILL')
  }
}

interface ClientResult {
  calls: number
  getFailures: number
  postFailures: number
  hung: number
  longestMs: number
  cutOff: boolean
  errors: string[]
}

const names: readonly ClientName[] = CLIENTS.filter((n) => n !== 'keel grpc' || drill.grpc)
const replicas = Array.from({ length: REPLICAS }, (_, i) => new Replica(i, i === 0 ? (drill.delay ?? 0) : 0))
await Promise.all(replicas.map((r) => r.start()))
if (drill.drop !== undefined && drill.drop < 100) dropPackets(0, drill.drop)
const clients: Subject[] = await startClients(names, dir, pids)

const results = new Map<ClientName, ClientResult>(
  names.map((n) => [
    n,
    { calls: 0, getFailures: 0, postFailures: 0, hung: 0, longestMs: 0, cutOff: false, errors: [] },
  ]),
)
const pending = new Map<Promise<unknown>, { client: ClientName; start: number }>()
let sending = true
let seq = 0

async function worker(client: Subject): Promise<void> {
  const result = results.get(client.name)!
  while (sending) {
    const post = seq++ % 5 === 0
    const start = performance.now()
    const call = client.call(post, `${client.name}|${seq}`).then(
      (ok) => ok,
      (error: unknown) => {
        const message = String((error as Error)?.message ?? error).slice(0, 120)
        if (result.errors.length < 3 && !result.errors.includes(message)) result.errors.push(message)
        return false
      },
    )
    pending.set(call, { client: client.name, start })
    const ok = await call
    pending.delete(call)
    const ms = performance.now() - start
    result.calls++
    if (!ok) {
      if (post) result.postFailures++
      else result.getFailures++
    }
    if (ms > HUNG) result.hung++
    result.longestMs = Math.max(result.longestMs, ms)
    await sleep(PACE)
  }
}

const started = Date.now()
const workers = clients.flatMap((c) => Array.from({ length: WORKERS }, () => worker(c)))

/** Waits until every client has sent a request to each restarted replica, or READMIT_MAX. */
async function readmitted(restarts: { replica: number; listenAt: number }[]): Promise<void> {
  const deadline = Math.max(...restarts.map((r) => r.listenAt)) + READMIT_MAX
  while (Date.now() < deadline) {
    await sleep(250)
    let all = true
    for (const { replica } of restarts) {
      const stats = await replicas[replica]!.stats()
      if (!names.every((n) => stats.firstAt[n] !== undefined)) all = false
    }
    if (all) return
  }
}

const restarts: { replica: number; listenAt: number }[] = []
if (drill.mode !== undefined) {
  if ((drill.at ?? 0) > 0) await sleep(drill.at!)
  replicas[0]!.send({ mode: drill.mode, rate: drill.rate ?? 1 })
}
if (drill.drop === 100) {
  await sleep(drill.at ?? 0)
  dropPackets(0, 100)
}
if (drill.kill !== undefined) {
  const order = drill.kill === 'one' ? [0] : [0, 1, 2]
  for (const i of order) {
    await sleep(drill.kill === 'one' ? 1_000 : 1_500)
    await replicas[i]!.kill()
    await sleep(drill.kill === 'one' ? 1_000 : 500)
    restarts.push({ replica: i, listenAt: await replicas[i]!.start() })
  }
  await readmitted(restarts)
}
await sleep(Math.max(0, WINDOW - (Date.now() - started)))
sending = false
const trafficEnd = performance.now()
await Promise.race([Promise.all(workers), sleep(CAP)])
for (const { client, start } of pending.values()) {
  const result = results.get(client)!
  result.hung++
  result.cutOff = true
  result.longestMs = Math.max(result.longestMs, performance.now() - start)
}
const waitedMs = performance.now() - trafficEnd

const readmitMs: Partial<Record<ClientName, number | null | undefined>> = {}
for (const name of names) {
  let worst: number | null = 0
  for (const { replica, listenAt } of restarts) {
    const first = (await replicas[replica]!.stats()).firstAt[name]
    if (first === undefined) worst = null
    else if (worst !== null) worst = Math.max(worst, first - listenAt)
  }
  readmitMs[name] = restarts.length === 0 ? undefined : worst
}
const readmitWindowMs = restarts.length === 0 ? 0 : Date.now() - Math.max(...restarts.map((r) => r.listenAt))

clearDrops(0)
for (const r of replicas) await r.stop()
const executions = new Map<string, number>()
const atFaulty: Record<string, number> = {}
const total: Record<string, number> = {}
for (const r of replicas) {
  for (const s of r.past) {
    for (const [client, n] of Object.entries(s.counts)) {
      total[client] = (total[client] ?? 0) + n
      if (r.index === 0) atFaulty[client] = (atFaulty[client] ?? 0) + n
    }
    for (const postId of s.postIds) executions.set(postId, (executions.get(postId) ?? 0) + 1)
  }
}
const duplicates: Record<string, number> = {}
for (const [postId, n] of executions) {
  if (n > 1) {
    const client = postId.split('|')[0]!
    duplicates[client] = (duplicates[client] ?? 0) + n - 1
  }
}
await Promise.race([Promise.all(clients.map((c) => c.close())), sleep(2_000)])
process.stdout.write(
  `${JSON.stringify({ id, names, results: Object.fromEntries(results), atFaulty, total, duplicates, readmitMs, readmitWindowMs, waitedMs })}\n`,
)
process.exit(0)
