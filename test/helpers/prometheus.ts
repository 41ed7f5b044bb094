import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus']
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool']

function find(candidates: readonly string[], name: string): string {
  const found = candidates.find((path) => existsSync(path))
  if (found === undefined) {
    throw new Error(`${name} is not installed (Debian package \`prometheus\`: apt-get install -y prometheus)`)
  }
  return found
}

/** Runs `promtool check rules FILE`; returns its exit status and output. */
export function checkRules(file: string): { status: number | null; output: string } {
  const result = spawnSync(find(PROMTOOL, 'promtool'), ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export interface PrometheusOptions {
  /** `host:port` targets scraped at `/metrics`. */
  readonly targets: readonly string[]
  /** Rule files (absolute paths) loaded with `rule_files`. */
  readonly ruleFiles?: readonly string[]
  /** @default '1s' */
  readonly scrapeInterval?: string
  /** @default '1s' */
  readonly evaluationInterval?: string
}

export interface PrometheusAlert {
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
  readonly state: 'pending' | 'firing'
  readonly activeAt: string
  readonly value: string
}

/**
 * Debian's Prometheus server on a free 127.0.0.1 port with a generated config and a throwaway
 * TSDB directory, in the foreground. `start` resolves once the server logged that it is ready
 * (and `/-/ready` answers 200); `stop` ends it and removes its directory.
 */
export class Prometheus {
  readonly url: string
  readonly #child: ChildProcess
  readonly #dir: string
  #log = ''
  readonly #onLog = new Set<() => void>()

  private constructor(child: ChildProcess, dir: string, port: number) {
    this.#child = child
    this.#dir = dir
    this.url = `http://127.0.0.1:${port}`
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#log += chunk.toString()
      for (const wake of [...this.#onLog]) wake()
    })
    child.stdout!.resume()
  }

  /** What the server logged so far (for failure messages). */
  get log(): string {
    return this.#log
  }

  static async start(options: PrometheusOptions): Promise<Prometheus> {
    const binary = find(PROMETHEUS, 'prometheus')
    let lastError: unknown
    // Another process may take the port between `freeTcpPort` and Prometheus binding it: retry.
    for (let tries = 0; tries < 3; tries++) {
      const dir = mkdtempSync(join(tmpdir(), 'keel-prometheus-'))
      const port = await freeTcpPort()
      writeFileSync(join(dir, 'prometheus.yml'), config(options))
      const child = spawn(
        binary,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--web.enable-lifecycle',
          '--log.level=info',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      const server = new Prometheus(child, dir, port)
      try {
        await server.#logged(/Server is ready to receive web requests/)
        const ready = await fetch(`${server.url}/-/ready`)
        if (ready.status !== 200) throw new Error(`/-/ready answered ${ready.status}`)
        return server
      } catch (error) {
        lastError = error
        await server.stop()
      }
    }
    throw lastError
  }

  /** `GET /api/v1/alerts`: the alerts pending or firing now. */
  async alerts(): Promise<PrometheusAlert[]> {
    const body = (await (await fetch(`${this.url}/api/v1/alerts`)).json()) as {
      status: string
      data: { alerts: PrometheusAlert[] }
    }
    if (body.status !== 'success') throw new Error(`/api/v1/alerts: ${JSON.stringify(body)}`)
    return body.data.alerts
  }

  /** An instant query; returns the result vector. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const body = (await (await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
      status: string
      data: { result: { metric: Record<string, string>; value: [number, string] }[] }
    }
    if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`)
    return body.data.result
  }

  /** `GET /api/v1/rules`: the loaded rule groups (to check the rule files were read). */
  async ruleNames(): Promise<string[]> {
    const body = (await (await fetch(`${this.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string }[] }[] }
    }
    return body.data.groups.flatMap((g) => g.rules.map((r) => r.name))
  }

  /**
   * Resolves with the first value `probe` returns that is not undefined. Prometheus has no push
   * API for rule state besides Alertmanager, so this asks it once per evaluation-sized interval
   * until `timeoutMs` passes (then rejects with the server's log).
   */
  async until<T>(probe: () => Promise<T | undefined>, timeoutMs = 8_000, everyMs = 250): Promise<T> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const value = await probe()
      if (value !== undefined) return value
      if (performance.now() > deadline)
        throw new Error(`Prometheus: condition not met in ${timeoutMs} ms\n${this.#log}`)
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(kill)
    }
    rmSync(this.#dir, { recursive: true, force: true })
  }

  /** Resolves when the log matches `pattern`; rejects if the server exits first. */
  #logged(pattern: RegExp): Promise<void> {
    const child = this.#child
    return new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (pattern.test(this.#log)) done()
      }
      const onExit = (code: number | null) => done(new Error(`prometheus exited (${code}):\n${this.#log}`))
      const done = (error?: Error) => {
        this.#onLog.delete(onData)
        child.off('exit', onExit)
        if (error) reject(error)
        else resolve()
      }
      this.#onLog.add(onData)
      child.once('exit', onExit)
      onData()
    })
  }
}

function config(options: PrometheusOptions): string {
  const lines = [
    'global:',
    `  scrape_interval: ${options.scrapeInterval ?? '1s'}`,
    `  scrape_timeout: ${options.scrapeInterval ?? '1s'}`,
    `  evaluation_interval: ${options.evaluationInterval ?? '1s'}`,
  ]
  if (options.ruleFiles !== undefined && options.ruleFiles.length > 0) {
    lines.push('rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`))
  }
  lines.push(
    'scrape_configs:',
    '  - job_name: keel',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
  )
  return `${lines.join('\n')}\n`
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}
