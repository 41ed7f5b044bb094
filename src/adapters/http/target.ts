import type { EndpointInfo } from '../../model/endpoint.ts'

/**
 * The `http(s)://authority` to dial for an endpoint. A bare `host:port` endpoint (`tcp:`) is
 * plain HTTP; gRPC endpoints belong to the gRPC adapter.
 */
export function httpOrigin(endpoint: EndpointInfo): string {
  const protocol = endpoint.protocol
  if (protocol === 'http:' || protocol === 'https:') return endpoint.origin
  if (protocol === 'tcp:') return `http://${endpoint.authority}`
  throw new TypeError(`Endpoint ${endpoint.id} is ${protocol}: an HTTP adapter needs an http: or https: endpoint`)
}

/** `scheme://authority/prefix` + `path` for an HTTP endpoint, keeping the endpoint's prefix. */
export function httpUrl(endpoint: EndpointInfo, path: string): string {
  const url = endpoint.resolve(path)
  return endpoint.protocol === 'tcp:' ? `http:${url.slice(4)}` : url
}

/**
 * The `Host` header for an endpoint dialled by address with a logical `servername` (docs/endpoints.md,
 * `servername`): the name, plus the port when it is not the scheme's default (RFC 9110 §7.2). Undefined
 * without a servername: then the dialled authority is the Host, as undici sends by default.
 */
export function hostHeader(endpoint: EndpointInfo): string | undefined {
  const name = endpoint.servername
  if (name === undefined) return undefined
  const defaultPort = endpoint.protocol === 'https:' ? 443 : 80
  return endpoint.port === defaultPort ? name : `${name}:${endpoint.port}`
}
