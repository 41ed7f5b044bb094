// Checks what `npm pack` would publish, after `npm run build`: the tarball stays within its size
// budget, ships no source maps, and carries what a user reads from the registry page (README,
// LICENSE, docs/) and every file `package.json` points at (exports, main, types, typesVersions).
//
// Budget: 500 kB packed and 2 MB unpacked. With eleven entry points (keel, fetch, undici, axios,
// grpc, dns, http, net, ioredis, prometheus, otel) the tarball is about 400 kB packed / 1.4 MB
// unpacked; the headroom is for new entry points and pages, not for source maps (which alone
// were 1.8 MB of a 2.6 MB package) or stray files.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export const BUDGET = { packed: 500_000, unpacked: 2_000_000 }

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const [report] = JSON.parse(
  execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
)
const files = new Set(report.files.map((f) => f.path))
const problems = []

const kB = (n) => `${(n / 1_000).toFixed(1)} kB`
if (report.size > BUDGET.packed) problems.push(`packed size ${kB(report.size)} is over the ${kB(BUDGET.packed)} budget`)
if (report.unpackedSize > BUDGET.unpacked)
  problems.push(`unpacked size ${kB(report.unpackedSize)} is over the ${kB(BUDGET.unpacked)} budget`)

const maps = [...files].filter((f) => f.endsWith('.map'))
if (maps.length > 0) problems.push(`source maps in the tarball: ${maps.join(', ')}`)

for (const required of ['README.md', 'LICENSE', 'package.json', 'docs/README.md', 'docs/getting-started.md']) {
  if (!files.has(required)) problems.push(`${required} is missing from the tarball`)
}

/** Every string leaf of an `exports` / `typesVersions` tree. */
function targets(value) {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.flatMap(targets)
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(targets)
  return []
}
const pointed = [pkg.main, pkg.module, pkg.types, ...targets(pkg.exports), ...targets(pkg.typesVersions)]
for (const target of pointed) {
  if (target === undefined || target.includes('*')) continue
  const path = target.replace(/^\.\//, '')
  if (!files.has(path)) problems.push(`package.json points at ${target}, which is not in the tarball`)
}

// Every subpath needs a typesVersions entry, or `moduleResolution: "node"` cannot find its types.
for (const key of Object.keys(pkg.exports ?? {})) {
  if (key === '.' || key === './package.json') continue
  if (pkg.typesVersions?.['*']?.[key.slice(2)] === undefined) {
    problems.push(`exports has ${key} but typesVersions has no "${key.slice(2)}" (moduleResolution "node")`)
  }
}

for (const name of ['repository', 'bugs', 'homepage', 'license']) {
  if (pkg[name] === undefined) problems.push(`package.json has no "${name}"`)
}

console.log(
  `${report.filename}: ${kB(report.size)} packed (budget ${kB(BUDGET.packed)}), ${kB(report.unpackedSize)} unpacked ` +
    `(budget ${kB(BUDGET.unpacked)}), ${report.files.length} files`,
)
if (problems.length > 0) {
  for (const problem of problems) console.error(`FAIL ${problem}`)
  process.exit(1)
}
console.log('ok   no source maps; README, LICENSE, docs and every exported file are in')
