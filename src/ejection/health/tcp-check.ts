import { connect } from 'node:net'
import { abortReason } from '../../internal/abort.ts'
import type { HealthCheck } from './health-check.ts'

/**
 * A `tcp` check: passes when a connection to the endpoint's host and port is established, then
 * closes it at once (Envoy's TCP health checker with no payload, HAProxy's default `check`). It
 * settles only once the socket is closed, so nothing outlives a check.
 */
export function tcpCheck(): HealthCheck {
  return (endpoint, signal) =>
    new Promise<boolean>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal))
        return
      }
      const socket = connect({ host: endpoint.host, port: endpoint.port })
      // A background check must not keep the process alive (as keel's timers are unref'd).
      socket.unref()
      let result: true | { error: unknown } | undefined
      const onAbort = () => {
        result ??= { error: abortReason(signal) }
        socket.destroy()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.once('connect', () => {
        result ??= true
        socket.destroy()
      })
      socket.on('error', (error) => {
        result ??= { error }
      })
      socket.once('close', () => {
        signal.removeEventListener('abort', onAbort)
        if (result === true) resolve(true)
        else reject(result?.error ?? new Error('connection closed before it was established'))
      })
    })
}
