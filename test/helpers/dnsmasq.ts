import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'

const CANDIDATES = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/usr/local/sbin/dnsmasq']

function findDnsmasq(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path))
}

/**
 * The dnsmasq binary, installed from Debian's packages when missing (as `.ci/run` does): with
 * apt-get as root, through `sudo -n` otherwise.
 */
export function ensureDnsmasq(): string {
  const found = findDnsmasq()
  if (found !== undefined) return found
  const root = process.getuid?.() === 0
  const run = (args: string[]) => {
    const [cmd, ...rest] = root ? args : ['sudo', '-n', ...args]
    const result = spawnSync(cmd!, rest, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    })
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr || result.error}`)
  }
  run(['apt-get', 'update', '-qq'])
  run(['apt-get', 'install', '-y', '-qq', 'dnsmasq'])
  const installed = findDnsmasq()
  if (installed === undefined) throw new Error('dnsmasq is not on this machine and could not be installed')
  return installed
}

/** A free UDP port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return port
}

export interface DnsmasqOptions {
  /** A directory for the hosts file. */
  readonly dir: string
  /** Lines of the `addn-hosts` file: `'127.0.0.2 svc.keel.test'`. */
  readonly hosts: readonly string[]
  /** `--srv-host` values: `'_http._tcp.svc.keel.test,b1.svc.keel.test,8080,0,1'`. */
  readonly srv?: readonly string[]
  /** Domain answered only from local data (NXDOMAIN/NODATA for the rest, never REFUSED). */
  readonly domain: string
}

/**
 * A dnsmasq on 127.0.0.1 at an unprivileged port, in the foreground, answering A records from an
 * `addn-hosts` file (TTL 1 s) and SRV records from its command line. `setHosts` rewrites the file
 * and sends SIGHUP, resolving once dnsmasq logged that it read the file again.
 */
export class Dnsmasq {
  readonly port: number
  readonly #binary: string
  readonly #options: DnsmasqOptions
  readonly #hostsFile: string
  #child!: ChildProcess
  #log = ''
  readonly #onLog = new Set<() => void>()

  private constructor(binary: string, options: DnsmasqOptions, port: number) {
    this.#binary = binary
    this.#options = options
    this.#hostsFile = join(options.dir, 'hosts')
    this.port = port
  }

  #attach(child: ChildProcess): void {
    this.#child = child
    this.#log = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#log += chunk.toString()
      for (const wake of [...this.#onLog]) wake()
    })
    child.stdout!.resume()
  }

  static async start(options: DnsmasqOptions): Promise<Dnsmasq> {
    const binary = ensureDnsmasq()
    writeFileSync(join(options.dir, 'hosts'), `${options.hosts.join('\n')}\n`)
    let lastError: unknown
    for (let tries = 0; tries < 5; tries++) {
      const port = await freePort()
      const server = new Dnsmasq(binary, options, port)
      const child = Dnsmasq.#spawn(binary, options, port)
      server.#attach(child)
      try {
        await server.#readHosts(1)
        return server
      } catch (error) {
        lastError = error
        child.kill('SIGKILL')
      }
    }
    throw lastError
  }

  static #spawn(binary: string, options: DnsmasqOptions, port: number): ChildProcess {
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${join(options.dir, 'hosts')}`,
      `--local=/${options.domain}/`,
      '--local-ttl=1',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--user=${userInfo().username}`,
      '--pid-file=',
      '--log-facility=-',
      ...(options.srv ?? []).map((s) => `--srv-host=${s}`),
    ]
    return spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  }

  /** Rewrites the hosts file and reloads it (SIGHUP). */
  async setHosts(lines: readonly string[]): Promise<void> {
    writeFileSync(this.#hostsFile, `${lines.join('\n')}\n`)
    const reads = this.#count()
    this.#child.kill('SIGHUP')
    await this.#readHosts(reads + 1)
  }

  /** Stops dnsmasq and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await exited
  }

  /** Starts it again on the same port (SRV records change only this way). */
  async restart(srv: readonly string[] = this.#options.srv ?? []): Promise<void> {
    await this.stop()
    this.#attach(Dnsmasq.#spawn(this.#binary, { ...this.#options, srv }, this.port))
    await this.#readHosts(1)
  }

  #count(): number {
    return this.#log.split(`read ${this.#hostsFile} - `).length - 1
  }

  /** Resolves when dnsmasq has read the hosts file `n` times (its sockets are bound by then). */
  #readHosts(n: number): Promise<void> {
    const child = this.#child
    return new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (this.#count() >= n) done()
      }
      const onExit = (code: number | null) => done(new Error(`dnsmasq exited (${code}):\n${this.#log}`))
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
