import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import type { Attempt } from '../../attempt.ts'
import type { EndpointInfo } from '../../endpoint.ts'
import { abortReason } from '../../internal/abort.ts'
import { ConnectTimeoutError, hintVerdict } from './errors.ts'
import type { NetHost } from './host.ts'
import type { ResolvedConnect } from './options.ts'

/**
 * One connection attempt to a picked endpoint: resolves with the socket once it is connected
 * (after the TLS handshake with `tls`), rejects when it is refused, reset, times out or keel
 * cancels the attempt. Every failure here is `not-sent`: nothing of the caller's has been written
 * yet, so keel fails over to another endpoint (HAProxy's `redispatch`, Envoy's connect failure).
 */
export function dial(
  host: NetHost,
  endpoint: EndpointInfo,
  attempt: Attempt,
  options: ResolvedConnect,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const signal = attempt.signal
    if (signal.aborted) {
      reject(abortReason(signal))
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
      const servername =
        endpoint.servername ?? tls.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined)
      socket = tlsConnect({
        ...tls,
        host: endpoint.host,
        port: endpoint.port,
        servername,
      }) as TLSSocket
      if (options.noDelay) socket.setNoDelay(true)
      event = 'secureConnect'
    }
    const clock = host.clock
    const timer = clock.setTimeout(() => {
      socket.destroy(new ConnectTimeoutError(options.timeout, endpoint.id))
    }, options.timeout)
    const onAbort = () => {
      done()
      socket.destroy()
      reject(abortReason(signal))
    }
    const onError = (error: Error) => {
      done()
      reject(signal.aborted ? abortReason(signal) : hintVerdict(error, 'not-sent'))
    }
    const onConnect = () => {
      done()
      resolve(socket)
    }
    const done = () => {
      clock.clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      socket.off('error', onError)
      socket.off(event, onConnect)
    }
    signal.addEventListener('abort', onAbort)
    socket.on('error', onError)
    socket.once(event, onConnect)
  })
}
