import { execFileSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

// Imports `entry` in a fresh Node process and lists the undici files it loaded (ESM or CJS), seen
// through module resolution hooks.
const PROBE = `
import { registerHooks } from 'node:module'
const loaded = []
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context)
    if (/[\\\\/]node_modules[\\\\/]undici[\\\\/]/.test(result.url)) loaded.push(result.url)
    return result
  },
})
await import(process.argv.at(-1))
process.stdout.write(JSON.stringify(loaded))
`

function undiciFilesLoadedBy(entry: string): string[] {
  const url = pathToFileURL(new URL(`../../${entry}`, import.meta.url).pathname).href
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE, url], { encoding: 'utf8' })
  return JSON.parse(out) as string[]
}

describe('undici is an optional peer dependency', () => {
  it('importing keel never loads undici', () => {
    expect(undiciFilesLoadedBy('src/index.ts')).toEqual([])
  })

  it('importing keel/fetch never loads undici', () => {
    expect(undiciFilesLoadedBy('src/adapters/fetch.ts')).toEqual([])
  })

  it('importing keel/undici loads it', () => {
    expect(undiciFilesLoadedBy('src/adapters/undici.ts').length).toBeGreaterThan(0)
  })
})
