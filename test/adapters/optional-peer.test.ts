import { execFileSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

// Imports `entry` in a fresh Node process and lists the files of package `peer` it loaded (ESM or
// CJS), seen through module resolution hooks.
const PROBE = `
import { registerHooks } from 'node:module'
const [peer, entry] = process.argv.slice(-2)
const loaded = []
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context)
    if (result.url.includes('/node_modules/' + peer + '/')) loaded.push(result.url)
    return result
  },
})
await import(entry)
process.stdout.write(JSON.stringify(loaded))
`

function filesLoadedBy(entry: string, peer: string): string[] {
  const url = pathToFileURL(new URL(`../../${entry}`, import.meta.url).pathname).href
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE, peer, url], { encoding: 'utf8' })
  return JSON.parse(out) as string[]
}

const undiciFilesLoadedBy = (entry: string) => filesLoadedBy(entry, 'undici')

describe('undici is an optional peer dependency', () => {
  it('importing keel never loads undici', () => {
    expect(undiciFilesLoadedBy('src/index.ts')).toEqual([])
  })

  it('importing keel/fetch never loads undici', () => {
    expect(undiciFilesLoadedBy('src/adapters/fetch/index.ts')).toEqual([])
  })

  it('importing keel/http never loads undici', () => {
    expect(undiciFilesLoadedBy('src/adapters/http-agent/index.ts')).toEqual([])
  })

  it('importing keel/undici loads it', () => {
    expect(undiciFilesLoadedBy('src/adapters/undici/index.ts').length).toBeGreaterThan(0)
  })
})

describe('axios is an optional peer dependency', () => {
  it.each(['src/index.ts', 'src/adapters/fetch/index.ts', 'src/adapters/undici/index.ts'])(
    'importing %s never loads axios',
    (entry) => {
      expect(filesLoadedBy(entry, 'axios')).toEqual([])
    },
  )

  it('importing keel/axios loads it', () => {
    expect(filesLoadedBy('src/adapters/axios/index.ts', 'axios').length).toBeGreaterThan(0)
  })
})

describe('pg and ioredis are optional peer dependencies', () => {
  it('importing keel or keel/net loads neither', () => {
    for (const entry of ['src/index.ts', 'src/adapters/net/index.ts']) {
      expect(filesLoadedBy(entry, 'ioredis')).toEqual([])
      expect(filesLoadedBy(entry, 'pg')).toEqual([])
    }
  })

  it('importing keel/ioredis loads ioredis', () => {
    expect(filesLoadedBy('src/adapters/net/ioredis.ts', 'ioredis').length).toBeGreaterThan(0)
  })

  it('importing keel/redis (shared health) loads ioredis', () => {
    expect(filesLoadedBy('src/addons/redis/index.ts', 'ioredis').length).toBeGreaterThan(0)
  })
})
