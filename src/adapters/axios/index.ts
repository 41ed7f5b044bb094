/**
 * Entry point `keel/axios`: an axios adapter that balances every request over a Balancer.
 *
 * @module keel/axios
 */
import axios, { type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios'
import { Balancer } from '../../balancer.ts'
import { adapterPort } from '../../core/port-access.ts'
import { checkNumber, isPlainObject, rejectUnknownKeys, typeError } from '../../internal/validate.ts'
import { callOptionsTable, retryPolicies } from '../http/retry-policy.ts'
import { parseServiceUrl } from '../http/service-url.ts'
import { DEFAULT_IDLE_TIMEOUT } from '../http/timeouts.ts'
import type { AxiosHost } from './attempt-config.ts'
import { AxiosRun } from './axios-run.ts'
import { type AxiosAgentOptions, EndpointAgents } from './endpoint-agents.ts'
import { keelOptions } from './keel-options.ts'
import { RequestPathError, requestPath } from './request-path.ts'

export type { AxiosAgentOptions } from './endpoint-agents.ts'
export { IdleTimeoutError } from './idle-timeout-error.ts'
export type { KeelRequestOptions } from './keel-options.ts'

declare module 'axios' {
  interface AxiosRequestConfig {
    /** keel's per-request options (`keel/axios`): a routing `key`, `idempotent`. */
    keel?: import('./keel-options.ts').KeelRequestOptions
  }
}

/** Options of `axiosAdapter`. */
export interface AxiosAdapterOptions {
  /**
   * The service's logical URL, e.g. `http://users.internal/api`: absolute request URLs under it
   * are sent to the picked endpoint like relative ones, its path prefix dropped
   * (`http://users.internal/api/u/42` → `/u/42`). Without it, an absolute `baseURL` names the
   * service by its origin and its path is kept.
   * @default undefined
   */
  readonly serviceUrl?: string | URL
  /**
   * Options of the per-endpoint node:http / node:https Agents keel creates for requests that set
   * no `httpAgent` / `httpsAgent` of their own: `maxSockets`, `keepAlive`, TLS options (`ca`,
   * `cert`, `key`, `rejectUnauthorized`), … An endpoint's `servername` is added for SNI and the
   * certificate check.
   * @default { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } (Node's global agents)
   */
  readonly agent?: AxiosAgentOptions
  /**
   * ms of silence both ways on an attempt's connection (waiting for the response, or between two
   * chunks of its body) after which an attempt that sets no `timeout` of its own is lost — an
   * `endpoint-failure`, retried elsewhere when idempotent (`not-sent` if the connection never
   * opened). On keel's agents a sweep of their busy sockets keeps it, closing a silent one within
   * 1¼ × the limit with an `IdleTimeoutError`; on a request's own agent it is that request's axios
   * `timeout`. A request's own non-zero `timeout` wins; 0 disables it for long polls and streams.
   * @default 15_000
   */
  readonly idleTimeout?: number
}

const OPTION_KEYS = ['serviceUrl', 'agent', 'idleTimeout'] as const

/**
 * Makes an axios adapter that balances every request over `balancer` (docs/axios.md):
 * `axios.create({ baseURL: 'http://users.internal', adapter: axiosAdapter(users) })`. Each
 * attempt is sent by axios' own http adapter to the picked endpoint (its path prefix kept); see
 * `requestPath` for how `baseURL` and `url` are joined onto it. GET, HEAD, OPTIONS, PUT, DELETE and
 * TRACE are idempotent; other methods need `keel: { idempotent: true }` or an `Idempotency-Key`
 * header to be retried after an endpoint failure. A stream `data` is sent once: it is retried only
 * when the request provably never left (`not-sent`). The result is what axios gives for the last
 * attempt: its response, or its `AxiosError` (a 404 or a 503 after the last retry included).
 */
export function axiosAdapter(balancer: Balancer<unknown>, options: AxiosAdapterOptions = {}): AxiosAdapter {
  if (!Balancer.isBalancer(balancer)) throw typeError('balancer', 'a keel Balancer', balancer)
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  rejectUnknownKeys('', options, OPTION_KEYS)
  const service = parseServiceUrl(options.serviceUrl)
  if (options.agent !== undefined && !isPlainObject(options.agent)) {
    throw typeError('agent', 'an object of node:https Agent options', options.agent)
  }
  const port = adapterPort(balancer)
  const policies = retryPolicies(port.settings.retry)
  const idleTimeout = checkNumber('idleTimeout', options.idleTimeout, { min: 0, integer: true }) ?? DEFAULT_IDLE_TIMEOUT
  const AxiosHeaders = axios.AxiosHeaders
  const host: AxiosHost = {
    balancer,
    port,
    classifier: port.classifier,
    policies,
    callOptions: callOptionsTable(policies),
    agents: new EndpointAgents(balancer, port, options.agent, idleTimeout),
    http: axios.getAdapter('http'),
    idleTimeout,
    copyHeaders: (headers) => {
      const copy = new AxiosHeaders(headers)
      // A header set to `false` (axios: "do not send my default") is not in the copy's source list.
      for (const [name, value] of Object.entries(headers)) if (value === false) copy.set(name, false)
      return copy as InternalAxiosRequestConfig['headers']
    },
  }
  return (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    let run: AxiosRun
    try {
      run = new AxiosRun(host, config, requestPath(config, service), keelOptions(config))
    } catch (error) {
      return Promise.reject(
        error instanceof RequestPathError ? new axios.AxiosError(error.message, 'ERR_INVALID_URL', config) : error,
      )
    }
    return run.start()
  }
}
