// Central proxies and small process helpers shared by the loopback benchmarks: nginx and HAProxy
// from Debian's packages (installed when missing, root needed), ports, readiness.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'

export function has(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Installs the Debian packages (each named as its binary) that are missing; root needed. */
export function ensurePackages(...names: string[]): void {
  const missing = names.filter((name) => !has(name))
  if (missing.length === 0) return
  console.error(`Installing ${missing.join(' and ')} from Debian packages…`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
}

export function ensureProxies(): void {
  ensurePackages('nginx', 'haproxy')
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Resolves once something accepts TCP connections on the port. */
export async function listening(port: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function nginxConfig(dir: string, name: string, http: string): string {
  const conf = join(dir, `${name}.conf`)
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, `${name}-body`)};
  proxy_temp_path ${join(dir, `${name}-proxy`)};
  fastcgi_temp_path ${join(dir, `${name}-fastcgi`)};
  uwsgi_temp_path ${join(dir, `${name}-uwsgi`)};
  scgi_temp_path ${join(dir, `${name}-scgi`)};
  keepalive_requests 1000000;
  keepalive_timeout 60s;
${http}
}
`,
  )
  return conf
}

/**
 * Starts `count` backends answering `200 ok` at once on 127.0.0.1: one nginx process, one worker,
 * one `server` block per port, its config and logs in `dir`. `started` gets the process before
 * anything is awaited, so the caller stops it even when a port never opens. Resolves with the
 * backends' URLs once every port accepts connections.
 */
export async function okBackends(dir: string, started: (nginx: ChildProcess) => void, count = 3): Promise<string[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort())
  const servers = ports.map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 'ok'; } }`).join('\n')
  const conf = nginxConfig(dir, 'backends', servers)
  const nginx = spawn('nginx', ['-p', dir, '-e', join(dir, 'backends.error.log'), '-c', conf], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  started(nginx)
  for (const p of ports) await listening(p, nginx)
  return ports.map((p) => `http://127.0.0.1:${p}`)
}

/** An HAProxy config: one frontend on `port` balancing over `backendPorts` with `balance`. */
export function haproxyConfig(
  dir: string,
  port: number,
  backendPorts: readonly number[],
  balance = 'leastconn',
): string {
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance ${balance}
${backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}
`,
  )
  return file
}

export function nginxVersion(): string {
  const out = execFileSync('sh', ['-c', 'nginx -v 2>&1'], { encoding: 'utf8' })
  return /nginx\/(\S+)/.exec(out)?.[1] ?? '?'
}

export function haproxyVersion(): string {
  const out = execFileSync('haproxy', ['-v'], { encoding: 'utf8' })
  return `HAProxy ${/HAProxy version (\S+)/.exec(out)?.[1] ?? '?'}`
}

export type { ChildProcess }
