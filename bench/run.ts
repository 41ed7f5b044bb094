// `npm run bench` runs every benchmark in bench/ in its own process, one after another, and
// prints their tables; `npm run bench -- pickers hashing` runs only those. Benchmarks report,
// they never fail on a timing. Node 22: npx -y -p node@22 node --experimental-strip-types bench/run.ts
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const flags: Record<string, string[]> = { breakers: ['--expose-gc'], pickers: ['--expose-gc'] }
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'lib.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
const wanted = process.argv.slice(2)
const chosen = wanted.length === 0 ? all : all.filter((name) => wanted.includes(name))
const strip = process.features.typescript ? [] : ['--experimental-strip-types']
let failed = 0
for (const name of chosen) {
  console.log(`\n## ${name}\n`)
  const run = spawnSync(process.execPath, [...strip, '--no-warnings', ...(flags[name] ?? []), `${dir}${name}.ts`], {
    stdio: 'inherit',
  })
  if (run.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
