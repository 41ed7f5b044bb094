// The clients a drill drives side by side, each with its defaults: keel's createFetch,
// BalancerDispatcher, axios adapter and gRPC client (each on its own Balancer), undici's
// BalancedPool, and nginx `least_conn` / HAProxy `leastconn` as central proxies in front of the
// same replicas. Every request names its client (`x-drill-client`) so the replicas count per
// client, and every POST carries an id so they can count executions.
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Client, credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import axios from 'axios'
import { BalancedPool, Pool, request } from 'undici'
import { axiosAdapter } from '../../src/adapters/axios/index.ts'
import { createFetch } from '../../src/adapters/fetch/index.ts'
import { createGrpcClient, unary } from '../../src/adapters/grpc/index.ts'
import { BalancerDispatcher } from '../../src/adapters/undici/index.ts'
import { Balancer } from '../../src/index.ts'
import { freePort, listening, nginxConfig } from '../proxies.ts'
import { address, GRPC_PORT, HTTP_PORT, REPLICAS } from './netns.ts'

export const CLIENTS = [
  'keel fetch',
  'keel undici',
  'keel axios',
  'keel grpc',
  'BalancedPool',
  'nginx',
  'HAProxy',
] as const
export type ClientName = (typeof CLIENTS)[number]

export interface Subject {
  readonly name: ClientName
  /** Resolves true for a 2xx answer (body read whole), false for anything else. */
  call(post: boolean, id: string): Promise<boolean>
  close(): Promise<void> | void
}

const httpUrls = (): string[] => Array.from({ length: REPLICAS }, (_, i) => `http://${address(i)}:${HTTP_PORT}`)
const BODY = 'x'.repeat(64)

/** `DRILL_DEBUG=1`: every ejection and restoration of a keel client, on stderr. */
function traced(balancer: Balancer, name: string): Balancer {
  if (process.env.DRILL_DEBUG === undefined) return balancer
  const t0 = Date.now()
  const log = (kind: string) => (e: { endpoint: { host: string }; detector: string; reason: string }) =>
    process.stderr.write(`${name} +${Date.now() - t0} ms ${kind} ${e.endpoint.host} ${e.detector} ${e.reason}\n`)
  balancer.on('ejected', log('ejected'))
  balancer.on('restored', log('restored'))
  const timer = setInterval(() => {
    const rows = balancer
      .snapshot()
      .endpoints.map((e) => `${e.id.split('.')[2]}:${e.requests}/${e.inFlight}/${e.ewmaMs.toFixed(1)}`)
    process.stderr.write(`${name} +${Date.now() - t0} ms ${rows.join(' ')}\n`)
  }, 300)
  timer.unref()
  balancer.on('attempt', (e) => {
    if (e.verdict !== 'success')
      process.stderr.write(`${name} +${Date.now() - t0} ms attempt ${e.endpoint.host} ${e.verdict}\n`)
  })
  return balancer
}

function headers(name: string, id: string): Record<string, string> {
  return { 'x-drill-client': name, 'x-drill-id': id }
}

function keelFetch(): Subject {
  const balancer = traced(new Balancer({ endpoints: httpUrls() }), 'fetch')
  const fetch = createFetch(balancer)
  return {
    name: 'keel fetch',
    async call(post, id) {
      const res = await fetch(
        '/work',
        post ? { method: 'POST', headers: headers(this.name, id), body: BODY } : { headers: headers(this.name, id) },
      )
      await res.arrayBuffer()
      return res.ok
    },
    close: () => balancer.close(),
  }
}

/** undici `request` through a dispatcher; `origin` is ignored by keel's dispatcher. */
function undiciCall(name: string, dispatcher: Pool | BalancedPool | BalancerDispatcher, origin: string) {
  return async (post: boolean, id: string): Promise<boolean> => {
    const res = await request(`${origin}/work`, {
      dispatcher,
      method: post ? 'POST' : 'GET',
      headers: headers(name, id),
      ...(post ? { body: BODY } : {}),
    })
    await res.body.arrayBuffer()
    return res.statusCode >= 200 && res.statusCode < 300
  }
}

function keelUndici(): Subject {
  const balancer = traced(new Balancer({ endpoints: httpUrls() }), 'undici')
  const dispatcher = new BalancerDispatcher(balancer)
  return {
    name: 'keel undici',
    call: undiciCall('keel undici', dispatcher, 'http://svc'),
    close: () => balancer.close(),
  }
}

function keelAxios(): Subject {
  const balancer = traced(new Balancer({ endpoints: httpUrls() }), 'axios')
  const api = axios.create({ baseURL: 'http://svc', adapter: axiosAdapter(balancer), validateStatus: null })
  return {
    name: 'keel axios',
    async call(post, id) {
      const res = await api.request({
        url: '/work',
        method: post ? 'POST' : 'GET',
        headers: headers(this.name, id),
        data: post ? BODY : undefined,
        responseType: 'arraybuffer',
      })
      return res.status >= 200 && res.status < 300
    },
    close: () => balancer.close(),
  }
}

const proto = new URL('../../test/fixtures/grpc/echo.proto', import.meta.url).pathname
// biome-ignore lint/suspicious/noExplicitAny: grpc-js's untyped package object
const Echo = (loadPackageDefinition(loadSync(proto)) as any).keel.test.Echo

/** gRPC: GETs are the proto's IDEMPOTENT method, POSTs the plain (non-idempotent) one. */
function keelGrpc(): Subject {
  const balancer = traced(
    new Balancer({ endpoints: Array.from({ length: REPLICAS }, (_, i) => `${address(i)}:${GRPC_PORT}`) }),
    'grpc',
  )
  const client = createGrpcClient(balancer, Echo, credentials.createInsecure()) as unknown as Record<string, Function> &
    Client
  const get = unary(client.IdempotentUnary as Function)
  const post = unary(client.Unary as Function)
  const metadata = new Metadata()
  metadata.set('x-drill-client', 'keel grpc')
  return {
    name: 'keel grpc',
    async call(isPost, id) {
      await (isPost ? post : get)({ id, message: BODY, count: 0 }, metadata)
      return true
    },
    close: () => balancer.close(),
  }
}

function balancedPool(): Subject {
  const pool = new BalancedPool(httpUrls())
  return { name: 'BalancedPool', call: undiciCall('BalancedPool', pool, 'http://svc'), close: () => pool.destroy() }
}

/** A started proxy process, registered in `pids` so the orchestrator can kill it whatever happens. */
async function proxy(name: ClientName, pids: string, command: string, args: string[], port: number): Promise<Subject> {
  const child: ChildProcess = spawn(command, args, { stdio: 'ignore' })
  appendFileSync(pids, `${child.pid}\n`)
  await listening(port, child)
  const pool = new Pool(`http://127.0.0.1:${port}`)
  return {
    name,
    call: undiciCall(name, pool, `http://127.0.0.1:${port}`),
    async close() {
      child.kill('SIGKILL')
      await pool.destroy()
    },
  }
}

/**
 * nginx `least_conn` as commonly configured for failover: passive `max_fails`/`fail_timeout`
 * (nginx's defaults, 1 and 10 s), `proxy_next_upstream` on errors, timeouts, 5xx and 429 (up to
 * 3 tries; POSTs are not passed on, nginx's default), upstream keep-alive, and nginx's default
 * timeouts (connect and read 60 s).
 */
async function nginx(dir: string, pids: string): Promise<Subject> {
  const port = await freePort()
  const servers = Array.from(
    { length: REPLICAS },
    (_, i) => `    server ${address(i)}:${HTTP_PORT} max_fails=1 fail_timeout=10s;`,
  )
  const conf = nginxConfig(
    dir,
    'nginx',
    `  upstream be {
    least_conn;
${servers.join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout invalid_header http_500 http_502 http_503 http_504 http_429;
      proxy_next_upstream_tries 3;
    }
  }`,
  )
  // No master process: SIGKILL then ends all of nginx (a killed master leaves its workers running).
  return proxy('nginx', pids, 'nginx', ['-c', conf, '-p', dir, '-g', 'master_process off;'], port)
}

/**
 * HAProxy `leastconn` as commonly configured: `retries 2`, `option redispatch`, L7 retries on
 * every retryable error (`retry-on all-retryable-errors`: connection failures, empty and junk
 * responses, response timeouts, 500/502/503/504; HAProxy 2.6 cannot retry a 429), TCP checks every second with passive layer-7
 * observation (`observe layer7`, `on-error mark-down`), and 5 s connect / 50 s server timeouts.
 */
async function haproxy(dir: string, pids: string): Promise<Subject> {
  const port = await freePort()
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(
    file,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 50s
  timeout server 50s
  retries 2
  option redispatch
  retry-on all-retryable-errors
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance leastconn
  default-server check inter 1s fall 3 rise 2 observe layer7 error-limit 10 on-error mark-down
${Array.from({ length: REPLICAS }, (_, i) => `  server s${i} ${address(i)}:${HTTP_PORT}`).join('\n')}
`,
  )
  return proxy('HAProxy', pids, 'haproxy', ['-db', '-f', file], port)
}

export async function startClients(names: readonly ClientName[], dir: string, pids: string): Promise<Subject[]> {
  const make: Record<ClientName, () => Subject | Promise<Subject>> = {
    'keel fetch': keelFetch,
    'keel undici': keelUndici,
    'keel axios': keelAxios,
    'keel grpc': keelGrpc,
    BalancedPool: balancedPool,
    nginx: () => nginx(dir, pids),
    HAProxy: () => haproxy(dir, pids),
  }
  return Promise.all(names.map((name) => make[name]()))
}
