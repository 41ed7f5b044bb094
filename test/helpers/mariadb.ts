import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeTcpPort } from './free-port.ts'
import { ready } from './redis-server.ts'

/** A throwaway MariaDB server on 127.0.0.1 (user `root`, no password). */
export interface MariadbServer {
  readonly port: number
  /** Kills the server (SIGKILL) and removes its data directory. */
  stop(): Promise<void>
}

const SERVER = existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : '/usr/sbin/mysqld'
const INSTALL = '/usr/bin/mariadb-install-db'

/** mariadbd refuses to run as root unless told which user to run as. */
const user = () => (process.getuid?.() === 0 ? ['--user=root'] : [])

/**
 * `mariadb-install-db` into a temporary directory, then Debian's `mariadbd` in the foreground on
 * 127.0.0.1 at a free port (its Unix socket in the same directory, no binary log, a small buffer
 * pool); resolves once it accepts connections.
 */
export async function startMariadb(): Promise<MariadbServer> {
  if (!existsSync(SERVER) || !existsSync(INSTALL)) throw new Error('MariaDB is missing: apt-get install mariadb-server')
  const dir = mkdtempSync(join(tmpdir(), 'keel-mariadb-'))
  const data = join(dir, 'data')
  const init = spawnSync(
    INSTALL,
    ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user()],
    { encoding: 'utf8', timeout: 60_000, cwd: dir },
  )
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`mariadb-install-db failed: ${init.stderr || init.error}`)
  }
  let lastError: unknown
  for (let tries = 0; tries < 5; tries++) {
    const port = await freeTcpPort()
    const child = spawn(
      SERVER,
      [
        '--no-defaults',
        ...user(),
        `--datadir=${data}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    )
    try {
      await ready(child, /ready for connections/)
      return { port, stop: () => kill(child, dir) }
    } catch (error) {
      lastError = error
      await kill(child, undefined)
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

async function kill(child: ChildProcess, dir: string | undefined): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
}
