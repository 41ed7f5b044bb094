// `npm run drills`: failure drills with real replicas in network namespaces, keel's clients side
// by side with undici's BalancedPool, nginx least_conn and HAProxy leastconn. Needs root (ip
// netns, nftables), nginx and haproxy. Writes the table to docs/reliability.md after a full run.
//
//   npm run drills                      # every drill, writes docs/reliability.md
//   npm run drills -- e503ra0 sigkill   # only these, prints the table
//   npm run drills -- --smoke           # one short drill: checks the suite works (CI may run it)
//
// Bounded: each drill sends traffic for DRILL_WINDOW ms (6 s), waits at most DRILL_CAP ms (20 s)
// for calls still running, and a drill process that overruns is killed. Namespaces, nft rules
// and every process started are removed on exit, on failure and on SIGINT/SIGTERM.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { haproxyVersion, has, nginxVersion } from '../proxies.ts'
import { DRILLS } from './faults.ts'
import { setupNamespaces, teardownNamespaces } from './netns.ts'
import { type DrillResult, markdown } from './report.ts'

const args = process.argv.slice(2)
const smoke = args.includes('--smoke')
const wanted = args.filter((a) => !a.startsWith('--'))
const chosen = smoke
  ? DRILLS.filter((d) => d.id === 'e503ra0')
  : DRILLS.filter((d) => wanted.length === 0 || wanted.includes(d.id))
if (chosen.length === 0)
  throw new Error(`no drill named ${wanted.join(', ')}; drills: ${DRILLS.map((d) => d.id).join(', ')}`)
if (process.getuid?.() !== 0) throw new Error('the drills need root: ip netns and nft')
for (const binary of ['ip', 'nft', 'nginx', 'haproxy']) if (!has(binary)) throw new Error(`${binary} is not installed`)

const env = smoke ? { ...process.env, DRILL_WINDOW: '1500', DRILL_CAP: '5000' } : process.env
const CAP = Number(env.DRILL_CAP ?? 20_000)
const dir = mkdtempSync(join(tmpdir(), 'keel-drills-'))
const pidFile = join(dir, 'pids')
writeFileSync(pidFile, '')

let cleaned = false
function cleanup(): void {
  if (cleaned) return
  cleaned = true
  for (const line of readFileSync(pidFile, 'utf8').split('\n')) {
    const pid = Number(line)
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already exited.
      }
    }
  }
  teardownNamespaces()
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}

function runDrill(id: string): Promise<DrillResult | undefined> {
  const strip = process.features.typescript ? [] : ['--experimental-strip-types']
  const child = spawn(
    process.execPath,
    [...strip, '--no-warnings', new URL('./drill.ts', import.meta.url).pathname, id, dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    },
  )
  writeFileSync(pidFile, `${readFileSync(pidFile, 'utf8')}${child.pid}\n`)
  let last: string | undefined
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{')) last = line
  })
  // A drill that overruns its own cap (plus start-up and re-admission) is killed.
  const guard = setTimeout(() => child.kill('SIGKILL'), CAP + 60_000)
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(guard)
      if (code !== 0 || last === undefined) console.error(`drill ${id} failed (exit ${code})`)
      resolve(last === undefined ? undefined : (JSON.parse(last) as DrillResult))
    })
  })
}

const began = Date.now()
setupNamespaces()
const results: DrillResult[] = []
const loads: number[] = []
for (const drill of chosen) {
  process.stderr.write(`drill ${drill.id}… `)
  const t = Date.now()
  const result = await runDrill(drill.id)
  loads.push(loadavg()[0]!)
  process.stderr.write(`${((Date.now() - t) / 1000).toFixed(1)} s\n`)
  if (result !== undefined) results.push(result)
}
const seconds = (Date.now() - began) / 1000
const meta = {
  node: process.version,
  nginx: nginxVersion(),
  haproxy: haproxyVersion(),
  loadMin: Math.min(...loads),
  loadMax: Math.max(...loads),
  seconds,
  window: Number(env.DRILL_WINDOW ?? 6_000),
  cap: CAP,
}
const body = markdown(results, meta)
console.log(body.table)
console.log(
  `\n${results.length}/${chosen.length} drills in ${seconds.toFixed(0)} s, load average ${meta.loadMin.toFixed(1)}–${meta.loadMax.toFixed(1)}`,
)
if (!smoke && wanted.length === 0) {
  writeFileSync(new URL('../../docs/reliability.md', import.meta.url), body.page)
  console.log('written to docs/reliability.md')
}
cleanup()
process.exit(results.length === chosen.length ? 0 : 1)
