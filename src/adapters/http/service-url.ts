import { typeError } from '../../internal/validate.ts'

/** A service's logical URL (`http://users.internal/api`): its origin and path prefix. */
export interface ServiceUrl {
  readonly origin: string
  /** The path below the origin, without a trailing slash (`''` for none). */
  readonly prefix: string
}

/** Starts with a URL scheme (`http:`, `https:`, …): an absolute URL, not a path. */
export const SCHEME = /^[a-z][a-z0-9+.-]*:/i

/** Parses an adapter's `serviceUrl` option; undefined when it is not set. */
export function parseServiceUrl(value: unknown, option = 'serviceUrl'): ServiceUrl | undefined {
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value instanceof URL ? value.href : String(value))
  } catch {
    throw typeError(option, 'an absolute http: or https: URL', value)
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    (typeof value !== 'string' && !(value instanceof URL))
  ) {
    throw typeError(option, 'an absolute http: or https: URL', value)
  }
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') }
}

/**
 * The path and query of `url` below `service` (`http://users.internal/api/u/42?x` under
 * `http://users.internal/api` → `/u/42?x`), or undefined when `url` is not under it.
 */
export function pathUnder(service: ServiceUrl, url: URL): string | undefined {
  if (url.origin !== service.origin) return undefined
  const path = url.pathname
  const prefix = service.prefix
  if (prefix === '' || path === prefix || path.startsWith(`${prefix}/`)) return path.slice(prefix.length) + url.search
  return undefined
}
