import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeTcpPort } from './free-port.ts'

const BINARY = '/usr/bin/redis-server'

/** A throwaway redis-server on 127.0.0.1. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:port` */
  readonly url: string
  /** Kills the server (SIGKILL: a crash, clients see their connections reset) and removes its dir. */
  stop(): Promise<void>
}

/**
 * Starts Debian's redis-server in the foreground on 127.0.0.1 (port `port`, or a free one), with
 * no persistence and a temporary working directory; resolves once it accepts connections.
 */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: apt-get install redis-server`)
  let lastError: unknown
  for (let tries = 0; tries < 5; tries++) {
    const p = port ?? (await freeTcpPort())
    const dir = mkdtempSync(join(tmpdir(), 'keel-redis-'))
    const child = spawn(
      BINARY,
      ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    try {
      await ready(child, /Ready to accept connections/)
      return { port: p, url: `redis://127.0.0.1:${p}`, stop: () => kill(child, dir) }
    } catch (error) {
      lastError = error
      await kill(child, dir)
      if (port !== undefined) break
    }
  }
  throw lastError
}

/** Resolves when the child's output matches `pattern`; rejects when it exits first. */
export function ready(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let log = ''
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (pattern.test(log)) done()
    }
    const onExit = (code: number | null) => done(new Error(`exited (${code}) before it was ready:\n${log}`))
    const done = (error?: Error) => {
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
      child.stdout?.resume()
      child.stderr?.resume()
      if (error) reject(error)
      else resolve()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
  })
}

async function kill(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }
  rmSync(dir, { recursive: true, force: true })
}
