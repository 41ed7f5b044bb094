// Runs docs/getting-started.md, step by step, with the files it has you write
// (examples/getting-started/): three users replicas, the Express orders service, and the load
// script; then kills one replica and slows another, as the tutorial does, and checks that no
// order failed, that the dead replica is ejected and that the slow one gets little traffic.
// Run: npm run build && node examples/getting-started.ts
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'

const dir = join(import.meta.dirname, 'getting-started')
const children: ChildProcess[] = []

/** Starts `node <file> …args` and resolves with the URL it prints once it listens. */
async function start(file: string, args: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, [join(dir, file), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  let output = ''
  for await (const chunk of child.stdout!) {
    output += chunk
    const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
    if (url !== undefined) return url
  }
  throw new Error(`${file} exited before listening: ${output}`)
}

/** Runs load.ts against the orders service; returns its summary line and what it counted. */
async function load(orders: string, count: number) {
  const child = spawn(process.execPath, [join(dir, 'load.ts'), String(count)], {
    env: { ...process.env, ORDERS_URL: orders },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  const [code] = await once(child, 'close')
  if (code !== 0) throw new Error(`load.ts exited with ${code}`)
  const line = output.trim()
  const failed = Number(/(\d+) failed/.exec(line)?.[1])
  const servedBy = new Map([...line.matchAll(/(\d+): (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]))
  return { line, failed, servedBy }
}

interface Snapshot {
  endpoints: { id: string; state: string; ewmaMs: number; requests: number; failures: number; ejections: number }[]
}
const portOf = (url: string) => Number(new URL(url).port)
let exitCode = 1
try {
  // Step 2: three replicas of the users service.
  const replicas = await Promise.all([0, 0, 0].map(() => start('replica.ts', ['0'])))
  const [, second, third] = replicas as [string, string, string]
  // Step 3: the orders service, balancing over them.
  const orders = await start('server.ts', [], { PORT: '0', REPLICAS: replicas.join(',') })

  // Step 4: traffic spreads over the three replicas.
  const before = await load(orders, 300)
  console.log(`all three up:    ${before.line}`)
  if (before.failed !== 0 || before.servedBy.size !== 3) throw new Error('expected 0 failures over 3 replicas')

  // Step 5: kill a replica. No order fails: keel retries the GETs on another replica and ejects it.
  children[1]!.kill('SIGKILL')
  await once(children[1]!, 'exit')
  const killed = await load(orders, 300)
  console.log(`second killed:   ${killed.line}`)
  if (killed.failed !== 0 || killed.servedBy.has(portOf(second)))
    throw new Error('expected 0 failures, none on the dead replica')

  // Step 6: slow a replica down to 300 ms: p2c-ewma moves traffic away from it.
  await fetch(`${third}/admin/latency?ms=300`, { method: 'POST' })
  const slowed = await load(orders, 300)
  console.log(`third slowed:    ${slowed.line}`)
  const slowShare = (slowed.servedBy.get(portOf(third)) ?? 0) / 300
  // Round robin would give it half; p2c-ewma a few percent (more on a loaded machine, where the
  // fast replica's latency rises too).
  if (slowed.failed !== 0 || slowShare > 0.2) throw new Error(`the slow replica took ${slowShare * 100}% of orders`)

  // Step 7: what keel knows.
  const snapshot = (await (await fetch(`${orders}/debug/balancer`)).json()) as Snapshot
  for (const e of snapshot.endpoints) {
    console.log(
      `  ${e.id.padEnd(16)} ${e.state.padEnd(8)} ewma ${e.ewmaMs.toFixed(1).padStart(6)} ms  ` +
        `requests ${String(e.requests).padStart(4)}  failures ${e.failures}  ejections ${e.ejections}`,
    )
  }
  const dead = snapshot.endpoints.find((e) => portOf(e.id) === portOf(second))
  if (dead?.state !== 'ejected') throw new Error(`the killed replica is ${dead?.state}, expected ejected`)
  exitCode = 0
} finally {
  for (const child of children) child.kill()
}
process.exitCode = exitCode
