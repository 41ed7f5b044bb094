import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import type { AttemptControl } from '../../core/ports.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import { ConnectTimeoutError } from './errors.ts'
import type { NetHost } from './host.ts'
import type { ResolvedConnect } from './options.ts'

/**
 * One connection attempt to a picked endpoint: resolves with the socket once it is connected
 * (after the TLS handshake with `tls`), rejects when it is refused, reset, times out or keel
 * cancels the attempt. Every failure here is `not-sent`: nothing of the caller's has been written
 * yet, so keel fails over to another endpoint (HAProxy's `option redispatch`, Envoy's connect
 * failure handling).
 */
export function dial(
  host: NetHost,
  endpoint: EndpointInfo,
  control: AttemptControl,
  options: ResolvedConnect,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (control.cancelled) {
      reject(control.cancelReason)
      return
    }
    const tls = options.tls
    let socket: Socket
    let event: 'connect' | 'secureConnect'
    if (tls === undefined) {
      socket = netConnect({
        host: endpoint.host,
        port: endpoint.port,
        noDelay: options.noDelay,
        allowHalfOpen: options.allowHalfOpen,
      })
      event = 'connect'
    } else {
      // As the other adapters do (docs/tls.md): the endpoint's name, else the host when it is one.
      const servername =
        endpoint.servername ?? tls.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined)
      socket = tlsConnect({ ...tls, host: endpoint.host, port: endpoint.port, servername }) as TLSSocket
      if (options.noDelay) socket.setNoDelay(true)
      event = 'secureConnect'
    }
    const { clock, timers } = host.port
    const timer = timers.schedule(clock.now() + options.timeout, () => {
      socket.destroy(new ConnectTimeoutError(options.timeout, endpoint.id))
    })
    const done = () => {
      timers.cancel(timer)
      control.onCancel = undefined
      socket.off('error', onError)
      socket.off(event, onConnect)
    }
    const onError = (error: Error) => {
      done()
      control.knownVerdict('not-sent')
      reject(error)
    }
    const onConnect = () => {
      done()
      resolve(socket)
    }
    control.onCancel = (reason) => {
      done()
      socket.destroy()
      reject(reason)
    }
    socket.on('error', onError)
    socket.once(event, onConnect)
  })
}
