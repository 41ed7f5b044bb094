// Debian's headless Chromium, driven over the DevTools protocol (CDP) with Node's own WebSocket:
// no browser download, no dependency. One page per browser; `close()` ends the process and removes
// its throwaway profile.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--remote-debugging-port=0',
]

interface CdpReply {
  readonly id?: number
  readonly method?: string
  readonly result?: Record<string, unknown>
  readonly error?: { readonly message: string }
}

export interface Page {
  /** Loads `url`; resolves after its load event. */
  goto(url: string): Promise<void>
  /** Evaluates `expression` in the page; a promise is awaited. Resolves with its JSON value. */
  evaluate<T>(expression: string): Promise<T>
  /** A PNG of the viewport. */
  screenshot(): Promise<Buffer>
  close(): Promise<void>
}

/** Starts Chromium with a `width`×`height` window on a blank page. */
export async function launchChromium(width = 1280, height = 860): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'keel-chromium-'))
  const browser: ChildProcess = spawn(
    CHROMIUM,
    [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`, 'about:blank'],
    // Its own process group, so `close()` ends the zygote and renderers with it: a child still
    // writing to the profile made removing it fail (ENOTEMPTY).
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  )
  const exited = new Promise<void>((resolve) => browser.once('exit', () => resolve()))
  const close = async () => {
    socket?.close()
    try {
      if (browser.pid !== undefined) process.kill(-browser.pid, 'SIGKILL')
    } catch {
      // The group is gone already.
    }
    await exited
    // A helper of the group may still be exiting: fs retries ENOTEMPTY/EBUSY a few times.
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
  }
  let socket: WebSocket | undefined
  try {
    const port = await debuggingPort(browser)
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      type: string
      webSocketDebuggerUrl: string
    }[]
    const target = targets.find((t) => t.type === 'page')
    if (target === undefined) throw new Error('Chromium opened no page')
    socket = new WebSocket(target.webSocketDebuggerUrl)
    await new Promise((resolve, reject) => {
      socket!.addEventListener('open', resolve, { once: true })
      socket!.addEventListener('error', () => reject(new Error('CDP WebSocket failed')), { once: true })
    })
  } catch (error) {
    await close()
    throw error
  }
  const ws = socket
  let nextId = 1
  const pending = new Map<number, { resolve: (r: CdpReply) => void; reject: (e: Error) => void }>()
  const waiting = new Map<string, (() => void)[]>()
  ws.addEventListener('message', (event) => {
    const reply = JSON.parse(String(event.data)) as CdpReply
    if (reply.id === undefined) {
      if (reply.method !== undefined) for (const resolve of waiting.get(reply.method)?.splice(0) ?? []) resolve()
      return
    }
    pending.get(reply.id)?.resolve(reply)
    pending.delete(reply.id)
  })
  ws.addEventListener('close', () => {
    for (const p of pending.values()) p.reject(new Error('Chromium closed the connection'))
    pending.clear()
  })
  const send = async (method: string, params: Record<string, unknown> = {}) => {
    const id = nextId++
    const reply = await new Promise<CdpReply>((resolve, reject) => {
      pending.set(id, { resolve, reject })
      ws.send(JSON.stringify({ id, method, params }))
    })
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.message}`)
    return reply.result ?? {}
  }
  const next = (method: string) =>
    new Promise<void>((resolve) => waiting.set(method, [...(waiting.get(method) ?? []), resolve]))
  try {
    await send('Page.enable')
    // The viewport itself (headless windows lose some height to the window frame).
    await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false })
  } catch (error) {
    await close()
    throw error
  }
  return {
    async goto(url) {
      const loaded = next('Page.loadEventFired')
      await send('Page.navigate', { url })
      await loaded
    },
    async evaluate<T>(expression: string) {
      const result = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
        result: { value: T }
        exceptionDetails?: { text: string; exception?: { description?: string } }
      }
      if (result.exceptionDetails !== undefined) {
        const { text, exception } = result.exceptionDetails
        throw new Error(`page: ${exception?.description ?? text}`)
      }
      return result.result.value
    },
    async screenshot() {
      const { data } = (await send('Page.captureScreenshot', { format: 'png' })) as { data: string }
      return Buffer.from(data, 'base64')
    },
    close,
  }
}

/** The port Chromium prints once its DevTools endpoint listens (`DevTools listening on ws://…`). */
function debuggingPort(browser: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk
      const port = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(output)?.[1]
      if (port !== undefined) {
        browser.stderr!.off('data', onData)
        browser.stderr!.resume()
        resolve(Number(port))
      }
    }
    browser.stderr!.on('data', onData)
    browser.once('exit', (code) => reject(new Error(`Chromium exited (${code}) before listening:\n${output}`)))
    browser.once('error', reject)
  })
}
