// A fetch response dropped with its body unread: once the Response is garbage-collected, its
// attempt ends (verdict `cancelled`, nothing charged) and its socket is closed. undici cancels a
// collected response's stream; keel must not keep the Response reachable while the body streams.
// Run in a child process with --expose-gc: a small heap collects in milliseconds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runProgram } from '../helpers/run-program.ts'

const index = fileURLToPath(new URL('../../src/index.ts', import.meta.url))
const fetchEntry = fileURLToPath(new URL('../../src/adapters/fetch/index.ts', import.meta.url))

const program = `
import { createServer } from 'node:http'
import { Balancer } from ${JSON.stringify(index)}
import { createFetch } from ${JSON.stringify(fetchEntry)}

const open = new Set()
// Headers and the start of a body that never ends: only a cancel can end the exchange.
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write('x'.repeat(1024))
  open.add(res)
  res.on('close', () => open.delete(res))
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const balancer = new Balancer({ endpoints: ['http://127.0.0.1:' + server.address().port] })
const verdicts = []
balancer.on('attempt', (e) => verdicts.push(e.verdict))
const fetch = createFetch(balancer)
const statuses = []
// Each response's body stays untouched. The test holds the ten responses until it has counted
// them (a young-generation GC during the loop could otherwise collect some early), then drops them.
const held = []
for (let i = 0; i < 10; i++) {
  statuses.push(
    await fetch('/unread/' + i).then((res) => {
      held.push(res)
      return res.status
    }),
  )
}
const before = { inFlight: balancer.snapshot().endpoints[0].inFlight, open: open.size }
held.length = 0
let turns = 0
while (turns < 50 && (verdicts.length < 10 || open.size > 0)) {
  turns++
  globalThis.gc()
  await new Promise((resolve) => setImmediate(resolve))
}
const after = { inFlight: balancer.snapshot().endpoints[0].inFlight, open: open.size }
const { requests, failures } = balancer.snapshot().endpoints[0]
await balancer.close()
server.close()
console.log(JSON.stringify({ statuses, before, after, verdicts, requests, failures }))
`

describe('createFetch: a response garbage-collected unread', () => {
  it('ends its attempt as cancelled and closes its socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-unread-'))
    const file = join(dir, 'program.mts')
    writeFileSync(file, program)
    const { exited, stdout, stderr } = await runProgram(file, ['--expose-gc'])
    rmSync(dir, { recursive: true, force: true })
    expect(stderr).toBe('')
    expect(exited).toBe(0)
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!)
    expect(report.statuses).toEqual(Array(10).fill(200))
    expect(report.before).toEqual({ inFlight: 10, open: 10 })
    expect(report.after).toEqual({ inFlight: 0, open: 0 })
    expect(report.verdicts).toEqual(Array(10).fill('cancelled'))
    // Cancelled attempts are not requests and cost the endpoint nothing.
    expect(report.requests).toBe(0)
    expect(report.failures).toBe(0)
  })
})
