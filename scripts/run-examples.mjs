// Runs every program in examples/ (each starts its own local servers and exits by itself).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = new URL('../examples/', import.meta.url).pathname
const programs = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
let failed = 0
for (const program of programs) {
  const started = performance.now()
  const run = spawnSync(process.execPath, [join(dir, program)], { encoding: 'utf8', timeout: 60_000 })
  const ms = Math.round(performance.now() - started)
  if (run.status === 0) {
    console.log(`ok   ${program} (${ms} ms)`)
  } else {
    failed++
    console.log(`FAIL ${program} (exit ${run.status ?? run.signal}, ${ms} ms)\n${run.stdout}\n${run.stderr}`)
  }
}
if (programs.length === 0) console.log('no examples yet')
process.exit(failed === 0 ? 0 : 1)
