// Prints every test file's duration from vitest's JSON report (`.ci/run` writes one per run).
import { readFileSync } from 'node:fs'

const [file, label] = process.argv.slice(2)
const report = JSON.parse(readFileSync(file, 'utf8'))
const rows = report.testResults
  .map((r) => ({
    name: r.name.slice(r.name.indexOf('/test/') + 1),
    ms: r.endTime - r.startTime,
    tests: r.assertionResults.length,
  }))
  .sort((a, b) => b.ms - a.ms)
console.log(`\nPer-file test times (${label}): ${rows.length} files, ${report.numTotalTests} tests`)
for (const r of rows)
  console.log(`${String(Math.round(r.ms)).padStart(7)} ms  ${String(r.tests).padStart(4)} tests  ${r.name}`)
