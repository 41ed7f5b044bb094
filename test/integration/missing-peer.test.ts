// A missing optional peer (undici, which createFetch needs for an https: endpoint's `servername`) raises
// KEEL_MISSING_PEER and is never charged to an endpoint. The child process runs with a module
// resolve hook that makes `undici` unresolvable, as on a machine where it is not installed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runProgram } from '../helpers/run-program.ts'

const index = fileURLToPath(new URL('../../src/index.ts', import.meta.url))
const fetchEntry = fileURLToPath(new URL('../../src/adapters/fetch/index.ts', import.meta.url))

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === 'undici') {
    throw Object.assign(new Error("Cannot find package 'undici' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  return next(specifier, context)
}
`

const program = `
import { createServer } from 'node:http'
import { Balancer } from ${JSON.stringify(index)}
import { createFetch } from ${JSON.stringify(fetchEntry)}

const server = createServer((req, res) => res.end('ok'))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
// https: endpoints: only TLS naming needs undici (a plain http: endpoint with a servername does not).
const url = 'https://127.0.0.1:' + server.address().port
const balancer = new Balancer({
  endpoints: [{ url, servername: 'a.internal' }, { url: url + '/b', servername: 'b.internal' }],
})
const verdicts = []
balancer.on('attempt', (e) => verdicts.push(e.verdict))
const fetch = createFetch(balancer)
const errors = []
for (let i = 0; i < 6; i++) {
  await fetch('/x').then(
    () => errors.push('resolved'),
    (error) => errors.push(error.code + ' ' + error.peer + ' ' + error.name),
  )
}
const endpoints = balancer.snapshot().endpoints.map((e) => [e.state, e.requests, e.failures])
await balancer.close()
server.close()
console.log(JSON.stringify({ errors, verdicts, endpoints }))
`

describe('a missing optional peer', () => {
  it('rejects with KEEL_MISSING_PEER, retries nothing and charges no endpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-peer-'))
    writeFileSync(join(dir, 'hooks.mjs'), hooks)
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)})\n`,
    )
    const file = join(dir, 'program.mts')
    writeFileSync(file, program)
    const { exited, stdout, stderr } = await runProgram(file, ['--import', join(dir, 'register.mjs')])
    rmSync(dir, { recursive: true, force: true })
    expect(stderr).toBe('')
    expect(exited).toBe(0)
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!)
    expect(report.errors).toEqual(Array(6).fill('KEEL_MISSING_PEER undici MissingPeerError'))
    // One attempt per call, cancelled: no retry, and nothing counted against either endpoint.
    expect(report.verdicts).toEqual(Array(6).fill('cancelled'))
    expect(report.endpoints).toEqual([
      ['active', 0, 0],
      ['active', 0, 0],
    ])
  })
})
