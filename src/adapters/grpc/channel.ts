import { isIPv4, isIPv6 } from 'node:net'
import {
  type ChannelCredentials,
  type ChannelInterface,
  type Client,
  type ClientOptions,
  connectivityState,
  type ServiceDefinition,
} from '@grpc/grpc-js'
import type { EndpointInfo } from '../../model/endpoint.ts'
import { usageError } from '../../model/errors.ts'
import type { ResourceSpec } from '../../resources/resources.ts'

/** A grpc-js service client constructor: what `grpc.loadPackageDefinition` or grpc-tools give. */
export interface GrpcServiceClientConstructor<T extends Client = Client> {
  new (address: string, credentials: ChannelCredentials, options?: ClientOptions): T
  readonly service: ServiceDefinition
}

/**
 * One endpoint's grpc-js client (a keel per-endpoint resource) and what keel tracks of its
 * channel: the connectivity state, kept current by a watcher that grpc-js calls synchronously on
 * every transition, and `readyEpoch`, the number of times the channel has entered READY. An
 * attempt that starts while the channel is not READY and fails before `readyEpoch` moves never
 * had a connection to be sent on (see `provenUnsent`).
 */
export interface EndpointChannel {
  readonly client: Client
  readonly channel: ChannelInterface
  /** The channel's target as grpc-js prints it (`channel.getTarget()`). */
  readonly target: string
  state: number
  readyEpoch: number
}

const { READY, SHUTDOWN } = connectivityState

/**
 * `ipv4:`/`ipv6:` for IP endpoints, `dns:` for names: targets with one address (or one name)
 * under grpc-js's default `pick_first`, so grpc-js keeps one connection per endpoint and never
 * re-balances what keel balances.
 */
export function grpcTarget(endpoint: EndpointInfo): string {
  const { host, port } = endpoint
  if (isIPv4(host)) return `ipv4:${host}:${port}`
  if (isIPv6(host)) return `ipv6:[${host}]:${port}`
  return `dns:${host}:${port}`
}

/** `true` for TLS protocols, `false` for plaintext ones, `undefined` when the credentials decide (`tcp:`). */
const PROTOCOL_TLS: Readonly<Record<string, boolean | undefined>> = {
  'grpcs:': true,
  'https:': true,
  'grpc:': false,
  'http:': false,
}

/**
 * Checks that an endpoint can be dialled with `credentials`: no path prefix (gRPC has none), and
 * an explicit scheme that agrees with the credentials (`grpcs:`/`https:` need TLS credentials,
 * `grpc:`/`http:` insecure ones; a bare `host:port` follows the credentials).
 */
export function checkEndpoint(endpoint: EndpointInfo, secure: boolean | undefined): void {
  if (endpoint.path !== '') {
    throw usageError(
      'KEEL_GRPC_PATH_PREFIX',
      `gRPC endpoint ${endpoint.id} has a path prefix; gRPC targets cannot carry one`,
    )
  }
  const tls = PROTOCOL_TLS[endpoint.protocol]
  if (tls === undefined || secure === undefined || tls === secure) return
  throw usageError(
    'KEEL_GRPC_CREDENTIALS_MISMATCH',
    `gRPC endpoint ${endpoint.id} is ${tls ? 'TLS' : 'plaintext'} but the credentials are ${secure ? 'TLS' : 'insecure'}`,
  )
}

/** Whether grpc-js credentials use TLS (`_isSecure` is public on grpc-js `ChannelCredentials`). */
export function isSecure(credentials: ChannelCredentials): boolean | undefined {
  const probe = (credentials as { _isSecure?: () => boolean })._isSecure
  return typeof probe === 'function' ? probe.call(credentials) : undefined
}

const DEFAULT_PORT: Readonly<Record<string, number>> = { 'grpc:': 80, 'http:': 80, 'grpcs:': 443, 'https:': 443 }

/**
 * How often (ms, ±20% jitter) a channel whose endpoint refuses connections tries again. grpc-js's
 * default backoff (gRPC connection-backoff.md: 1 s, ×1.6 per failure, up to 120 s) would leave a
 * replica that listens again unreachable for seconds after keel's re-admission probe picks it: a
 * call on a channel in TRANSIENT_FAILURE fails at once (`not-sent`), so the probe fails and the
 * next one comes later still. keel already paces the traffic an ejected endpoint gets (probes from
 * 1 s, ×1.25 each); the channel only has to be connected when a probe comes, so it retries every
 * quarter second: the connection is back within ~0.3 s of the replica listening, and a probe
 * finds it at most one probe interval (≤ 1.9 s within the first 6 s of an ejection) later. A refused connect
 * costs one SYN and one RST; a blackholed one waits out grpc-js's 20 s connect timeout first, so
 * the retries never pile up.
 */
export const RECONNECT_BACKOFF_MS = 250

/**
 * The channel options of one endpoint's client. keel sets:
 * - `grpc.service_config_disable_resolution`: no service config from DNS TXT records can switch
 *   the policy or add grpc-js retries under keel's;
 * - `grpc.use_local_subchannel_pool`: each client owns its connection, so closing or renewing the
 *   resource (`maxConnectionAge`) really closes or renews it;
 * - with `servername` (the endpoint's or the balancer's), `grpc.default_authority` (`:authority`)
 *   and, for TLS, `grpc.ssl_target_name_override` (SNI and certificate name), as docs/grpc.md
 *   says;
 * - `grpc.initial_reconnect_backoff_ms` and `grpc.max_reconnect_backoff_ms`: `RECONNECT_BACKOFF_MS`.
 *
 * The user's own values for these win.
 */
export function channelOptions(
  endpoint: EndpointInfo,
  user: ClientOptions,
  secure: boolean | undefined,
): ClientOptions {
  const options: Record<string, unknown> = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS,
    'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS,
  }
  const servername = endpoint.servername
  if (servername !== undefined) {
    const port = endpoint.port === DEFAULT_PORT[endpoint.protocol] ? '' : `:${endpoint.port}`
    options['grpc.default_authority'] = servername + port
    if (secure !== false) options['grpc.ssl_target_name_override'] = servername
  }
  return { ...options, ...user, 'grpc.service_config_disable_resolution': 1 } as ClientOptions
}

/** Keeps `record.state` and `record.readyEpoch` current until the channel shuts down. */
function track(record: EndpointChannel): void {
  const channel = record.channel
  const watch = () => {
    try {
      channel.watchConnectivityState(record.state, Number.POSITIVE_INFINITY, onChange)
    } catch {
      // The channel was closed (grpc-js throws on SHUTDOWN): nothing left to watch.
    }
  }
  const onChange = () => {
    const state = channel.getConnectivityState(false)
    record.state = state
    if (state === READY) record.readyEpoch++
    if (state !== SHUTDOWN) watch()
  }
  watch()
}

/**
 * The per-endpoint resource spec: a client of `ServiceClient` on the endpoint's target, connecting
 * at once (a call is about to use it), closed when the endpoint finishes draining or the balancer
 * closes.
 */
export function channelResource(
  ServiceClient: GrpcServiceClientConstructor,
  credentials: ChannelCredentials,
  user: ClientOptions,
): ResourceSpec<EndpointChannel> {
  const secure = isSecure(credentials)
  return {
    create(endpoint) {
      checkEndpoint(endpoint, secure)
      const client = new ServiceClient(grpcTarget(endpoint), credentials, channelOptions(endpoint, user, secure))
      const channel = client.getChannel()
      const state = channel.getConnectivityState(true)
      const record: EndpointChannel = {
        client,
        channel,
        target: channel.getTarget(),
        state,
        readyEpoch: state === READY ? 1 : 0,
      }
      track(record)
      return record
    },
    close(record) {
      record.client.close()
    },
  }
}
