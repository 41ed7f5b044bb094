// `npm run demo`'s live page in a real browser (Debian's headless Chromium over CDP): the page
// loads, draws the three backends, and shows C's ejection when the demo kills it at 7 s, with no
// client-visible failure. The screenshot it takes then goes to the temp folder, and to
// docs/img/demo.png (which docs/demo.md shows) with KEEL_UPDATE_SCREENSHOT=1, so a test run leaves
// the work tree clean.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { launchChromium, type Page } from '../helpers/chromium.ts'
import { cleanupsAfterEach } from '../helpers/cleanups.ts'

const root = new URL('../../', import.meta.url)
const cleanups = cleanupsAfterEach()

/** Starts the demo on a free port; resolves with the page URL it prints. */
async function startDemo(): Promise<{ demo: ChildProcess; url: string }> {
  const demo = spawn(process.execPath, [new URL('scripts/demo.ts', root).pathname], {
    env: { ...process.env, DEMO_PORT: '0', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  cleanups.push(async () => {
    if (demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGINT')
      await once(demo, 'exit')
    }
  })
  // A 'data' listener, not `for await`: leaving that loop would destroy the pipe under the demo.
  return new Promise((resolve, reject) => {
    let output = ''
    demo.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      const url = /live view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1]
      if (url !== undefined) resolve({ demo, url })
    })
    demo.once('exit', (code) => reject(new Error(`the demo exited (${code}) before printing its page:\n${output}`)))
  })
}

/** Resolves (in the page) once `predicate` holds, re-checked on every DOM change. */
function waitInPage(page: Page, predicate: string): Promise<true> {
  return page.evaluate<true>(`new Promise((resolve) => {
    const check = () => { if (${predicate}) { observer.disconnect(); resolve(true) } }
    const observer = new MutationObserver(check)
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true })
    check()
  })`)
}

describe('npm run demo: the live page', () => {
  it('draws the backends and shows the dead one ejected, in Chromium', async () => {
    // Chromium first, so its start-up does not compete with the demo's first seconds for the CPU.
    const page = await launchChromium()
    cleanups.push(() => page.close())
    const { url } = await startDemo()
    await page.goto(url)

    await waitInPage(page, `document.querySelectorAll('[data-backend]').length === 3`)
    const names = await page.evaluate<string[]>(
      `[...document.querySelectorAll('[data-backend]')].map((e) => e.dataset.backend)`,
    )
    expect(names).toEqual(['A', 'B', 'C'])

    // C dies at 7 s: outlier detection ejects it at its first refused connection (the breaker or
    // health checks may get there too); a frame then shows C out of rotation and the event log
    // says which detector took it out. A page opened late replays every frame since 0 s.
    const cOut = `window.demoFrames.some((f) => f.elapsedMs >= 7000 && ['ejected', 'unhealthy', 'open'].includes(f.states.C))`
    await waitInPage(page, `${cOut} && window.demoEvents().some((e) => e.startsWith('C ejected by'))`)
    // Then a frame whose last second had no attempt on C, so the charts show its share gone.
    await waitInPage(page, `window.demoFrames.some((f) => f.elapsedMs >= 7000 && f.shares.C === 0)`)

    const seen = await page.evaluate<{ failures: string; areas: number; lines: number; events: string[] }>(`({
      failures: document.getElementById('failures').textContent,
      areas: document.querySelectorAll('#share polygon').length,
      lines: document.querySelectorAll('#latency polyline').length,
      events: window.demoEvents(),
    })`)
    expect(seen.failures).toBe('0')
    expect(seen.areas).toBe(3)
    expect(seen.lines).toBe(3)
    expect(seen.events).toContain('C dies')
    expect(seen.events.filter((e) => e.startsWith('C ejected by')).length).toBeGreaterThan(0)

    const shot = await page.screenshot()
    expect(shot.length).toBeGreaterThan(10_000)
    const dir = process.env.KEEL_UPDATE_SCREENSHOT === '1' ? fileURLToPath(new URL('docs/img/', root)) : tmpdir()
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'demo.png'), shot)
    // About 9 s on a quiet machine (the demo kills C at 7 s); the margin is for a loaded one,
    // where Chromium alone can take seconds to start.
  }, 30_000)
})
