import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeTcpPort } from './free-port.ts'
import { ready } from './redis-server.ts'

/** A throwaway PostgreSQL server on 127.0.0.1 (trust auth, user `postgres`). */
export interface PostgresServer {
  readonly port: number
  /** `postgres://postgres@127.0.0.1:port/postgres` */
  readonly url: string
  /** Kills the server (SIGKILL) and removes its data directory. */
  stop(): Promise<void>
}

/** The newest Debian PostgreSQL's binaries (`/usr/lib/postgresql/N/bin`). */
function binDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : []
  if (versions.length === 0) throw new Error('PostgreSQL is missing: apt-get install postgresql')
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin')
}

/** PostgreSQL refuses to run as root: as root, its processes run as the `postgres` user. */
function serverUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
  return { uid: id('-u'), gid: id('-g') }
}

/**
 * initdb into a temporary directory (trust auth, no fsync) and starts `postgres` in the foreground
 * on 127.0.0.1 at `port` (or a free one), its Unix socket in the same directory; resolves once it
 * accepts connections.
 */
export async function startPostgres(port?: number): Promise<PostgresServer> {
  const bin = binDir()
  const dir = mkdtempSync(join(tmpdir(), 'keel-pg-'))
  const owner = serverUid()
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid)
  const data = join(dir, 'data')
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: dir,
    ...owner,
  })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${init.stderr || init.error}`)
  }
  let lastError: unknown
  for (let tries = 0; tries < 5; tries++) {
    const p = port ?? (await freeTcpPort())
    const argv = [
      '-D',
      data,
      '-k',
      dir,
      '-h',
      '127.0.0.1',
      '-p',
      String(p),
      '-c',
      'fsync=off',
      '-c',
      'logging_collector=off',
    ]
    const child = spawn(join(bin, 'postgres'), argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...owner })
    try {
      await ready(child, /database system is ready to accept connections/)
      return {
        port: p,
        url: `postgres://postgres@127.0.0.1:${p}/postgres`,
        stop: () => kill(child, dir),
      }
    } catch (error) {
      lastError = error
      await kill(child, undefined)
      if (port !== undefined) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

async function kill(child: ChildProcess, dir: string | undefined): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // SIGQUIT is PostgreSQL's immediate shutdown: sessions are cut at once, as by a crash (a SIGKILL
    // of the postmaster would leave its backends running until they notice).
    child.kill('SIGQUIT')
    await exited
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
}
