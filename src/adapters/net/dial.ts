import { isIP, connect as netConnect, type OnReadOpts, type Socket } from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import type { AttemptCanceller, AttemptControl } from '../../core/ports.ts'
import type { TimerEntry } from '../../internal/timer-queue.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import { ConnectTimeoutError } from './errors.ts'
import type { NetHost } from './host.ts'
import type { ResolvedConnect } from './options.ts'

/**
 * One connection attempt to a picked endpoint: calls `connected(socket)` once it is connected
 * (after the TLS handshake with `tls`), `failed(error)` when it is refused, reset, times out or keel
 * cancels the attempt. Every failure here is `not-sent`: nothing of the caller's has been written
 * yet, so keel fails over to another endpoint (HAProxy's `option redispatch`, Envoy's connect
 * failure handling). Callbacks, not a promise: the proxy dials once per accepted connection, and
 * `connected` runs in the socket's own `'connect'` event, before it has read anything.
 *
 * `onread` (plain TCP only) makes the socket read into the caller's buffer (`net.connect`'s
 * `onread`): the proxy's upstream side, which reuses one buffer per connection.
 */
export function dial(
  host: NetHost,
  endpoint: EndpointInfo,
  control: AttemptControl,
  options: ResolvedConnect,
  connected: (socket: Socket) => void,
  failed: (error: unknown) => void,
  onread?: OnReadOpts,
): void {
  if (control.cancelled) {
    failed(control.cancelReason)
    return
  }
  new Dial(host, endpoint, control, options, connected, failed, onread)
}

class Dial implements AttemptCanceller {
  readonly socket: Socket
  readonly #host: NetHost
  readonly #control: AttemptControl
  readonly #connected: (socket: Socket) => void
  readonly #failed: (error: unknown) => void
  readonly #event: 'connect' | 'secureConnect'
  readonly #timer: TimerEntry
  #done = false

  constructor(
    host: NetHost,
    endpoint: EndpointInfo,
    control: AttemptControl,
    options: ResolvedConnect,
    connected: (socket: Socket) => void,
    failed: (error: unknown) => void,
    onread: OnReadOpts | undefined,
  ) {
    this.#host = host
    this.#control = control
    this.#connected = connected
    this.#failed = failed
    const tls = options.tls
    let socket: Socket
    if (tls === undefined) {
      socket = netConnect({
        host: endpoint.host,
        port: endpoint.port,
        noDelay: options.noDelay,
        allowHalfOpen: options.allowHalfOpen,
        ...(onread === undefined ? {} : { onread }),
      })
      this.#event = 'connect'
    } else {
      // As the other adapters do (docs/tls.md): the endpoint's name, else the host when it is one.
      const servername =
        endpoint.servername ?? tls.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined)
      socket = tlsConnect({ ...tls, host: endpoint.host, port: endpoint.port, servername }) as TLSSocket
      if (options.noDelay) socket.setNoDelay(true)
      this.#event = 'secureConnect'
    }
    this.socket = socket
    const { clock, timers } = host.port
    this.#timer = timers.schedule(clock.now() + options.timeout, () => {
      socket.destroy(new ConnectTimeoutError(options.timeout, endpoint.id))
    })
    control.canceller = this
    socket.on('error', this.#onError)
    socket.on(this.#event, this.#onConnect)
  }

  #finish(): boolean {
    if (this.#done) return false
    this.#done = true
    this.#host.port.timers.cancel(this.#timer)
    this.#control.canceller = undefined
    this.socket.off('error', this.#onError)
    this.socket.off(this.#event, this.#onConnect)
    return true
  }

  readonly #onError = (error: Error): void => {
    if (!this.#finish()) return
    this.#control.knownVerdict('not-sent')
    this.#failed(error)
  }

  readonly #onConnect = (): void => {
    if (this.#finish()) this.#connected(this.socket)
  }

  /** keel gave up on the attempt (`AttemptControl.canceller`). */
  attemptCancelled(reason: unknown): void {
    if (!this.#finish()) return
    this.socket.destroy()
    this.#failed(reason)
  }
}
