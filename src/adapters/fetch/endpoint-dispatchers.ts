import type { ConnectionOptions } from 'node:tls'
import type { Balancer } from '../../balancer.ts'
import type { AdapterPort } from '../../core/ports.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import type { ResourceHandle } from '../../resources/resources.ts'
import { withDefaultHeader } from '../http/headers.ts'
import { loadPeer } from '../http/optional-peer.ts'
import { hostHeader, httpOrigin } from '../http/target.ts'

/** TLS and socket options for the per-endpoint connection pools (undici `connect` options). */
export type FetchConnectOptions = ConnectionOptions & {
  /** Connect timeout in ms (undici's default). @default 10_000 */
  readonly timeout?: number
}

type Undici = typeof import('undici')
type PoolConnect = Exclude<import('undici').Pool.Options['connect'], undefined>
interface Closable {
  close(): Promise<void>
}
type Dispatch = (opts: { headers?: unknown }, handler: unknown) => boolean

/**
 * One undici Pool per endpoint for fetch, used only where fetch alone cannot do the job: an
 * endpoint with a `servername` (SNI, certificate name and `Host` differ from the address dialled)
 * or `connect` options (a private CA, client certificates). undici is loaded on first need, so
 * `keel/fetch` works without it when neither applies. The Pool is wrapped for the legacy handler
 * API that Node's built-in fetch still dispatches with (undici ≥ 8 `Dispatcher1Wrapper`).
 */
export class EndpointDispatchers {
  readonly #balancer: Balancer<unknown>
  readonly #port: AdapterPort
  readonly #connect: FetchConnectOptions | undefined
  #handle: ResourceHandle<unknown> | undefined
  #loading: Promise<void> | undefined

  constructor(balancer: Balancer<unknown>, port: AdapterPort, connect: FetchConnectOptions | undefined) {
    this.#balancer = balancer
    this.#port = port
    this.#connect = connect
  }

  /** Whether requests to `endpoint` need their own dispatcher. */
  needs(endpoint: EndpointInfo): boolean {
    return this.#connect !== undefined || endpoint.servername !== undefined
  }

  /** The endpoint's dispatcher, loading undici the first time. */
  get(endpoint: EndpointInfo): unknown {
    if (this.#handle !== undefined) return this.#handle.get(endpoint)
    this.#loading ??= loadPeer(
      'undici',
      'keel/fetch with `connect` options or an endpoint `servername`',
      () => import('undici'),
    ).then(
      (undici) => {
        this.#handle ??= this.#register(undici)
      },
      (error: unknown) => {
        // Installing the package later must work without a new createFetch.
        this.#loading = undefined
        throw error
      },
    )
    return this.#loading.then(() => this.#handle!.get(endpoint))
  }

  #register(undici: Undici): ResourceHandle<unknown> {
    const connect = this.#connect
    return this.#balancer.resource(this.#port.uniqueResourceName('fetch.pool'), {
      create: (endpoint) => {
        const servername = endpoint.servername
        const options = servername === undefined ? connect : { ...connect, servername }
        const pool = new undici.Pool(
          httpOrigin(endpoint),
          options === undefined ? {} : { connect: options as PoolConnect },
        )
        const host = hostHeader(endpoint)
        // fetch drops a caller's Host header, so the logical name is set below fetch, per dispatch.
        const named =
          host === undefined
            ? pool
            : pool.compose(
                (dispatch) =>
                  ((opts, handler) =>
                    (dispatch as unknown as Dispatch)(
                      { ...opts, headers: withDefaultHeader(opts.headers, 'host', host) },
                      handler,
                    )) as typeof dispatch,
              )
        const Wrapper = (undici as Partial<Undici>).Dispatcher1Wrapper
        return Wrapper === undefined ? named : new Wrapper(named)
      },
      close: (dispatcher) => (dispatcher as Closable).close(),
    })
  }
}
