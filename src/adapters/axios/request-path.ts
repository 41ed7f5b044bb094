import { pathUnder, SCHEME, type ServiceUrl } from '../http/service-url.ts'

/** The URL fields of an axios request config. */
export interface AxiosUrlFields {
  readonly baseURL?: string | undefined
  readonly url?: string | undefined
  readonly allowAbsoluteUrls?: boolean | undefined
}

/** axios' test for an absolute URL: `scheme://…` or protocol-relative `//…` (helpers/isAbsoluteURL.js). */
const ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i

/** axios' `combineURLs`: the base without trailing slashes, one slash, the path without leading ones. */
function combine(base: string, path: string): string {
  return path === '' ? base : `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`
}

/** A request URL keel cannot send to an endpoint of the service: the message says why. */
export class RequestPathError extends TypeError {
  constructor(message: string) {
    super(message)
    this.name = 'TypeError'
  }
}

/**
 * The path and query an axios request sends to the picked endpoint, which joins it onto its own
 * path prefix (`endpoint.resolve`). axios' own rule builds the full URL first (`baseURL` joined
 * with a relative `url`, or with any `url` when `allowAbsoluteUrls` is false). Then:
 *
 * - a relative result (`/users/42`, `users/42`, `?q=1`) is sent as it is;
 * - an absolute one must be on the service, and only its part below the service is sent. The
 *   service is `serviceUrl` when set (its path prefix is dropped: the endpoints carry theirs),
 *   otherwise the origin of an absolute `baseURL` (the base's path is kept: it is part of the
 *   request, not of the service's address);
 * - anything else (an absolute URL with no service, or on another origin) is refused.
 *
 * `baseURL: 'http://users.internal/api'`, `url: '/u/42'` → `/api/u/42`; with
 * `serviceUrl: 'http://users.internal/api'` → `/u/42`. Throws `RequestPathError`.
 */
export function requestPath(fields: AxiosUrlFields, service: ServiceUrl | undefined): string {
  const url = fields.url ?? ''
  const base = fields.baseURL
  const full =
    base !== undefined && base !== '' && (!ABSOLUTE.test(url) || fields.allowAbsoluteUrls === false)
      ? combine(base, url)
      : url
  if (!ABSOLUTE.test(full)) {
    if (SCHEME.test(full)) throw new RequestPathError(`keel/axios: ${full} is not an http: or https: URL`)
    return full
  }
  const on = service ?? baseService(base)
  const fast = on === undefined ? undefined : plainPathUnder(on, full)
  if (fast !== undefined) return fast
  if (on === undefined) {
    throw new RequestPathError(
      `keel/axios: ${full} is absolute; pass a path such as '/users/42', or set \`baseURL\` on the axios instance or \`serviceUrl\` on the adapter`,
    )
  }
  let parsed: URL
  try {
    parsed = new URL(full, on.origin)
  } catch {
    throw new RequestPathError(`keel/axios: ${full} is not a valid URL`)
  }
  const path = pathUnder(on, parsed)
  if (path === undefined) {
    throw new RequestPathError(
      `keel/axios: ${full} is not on the balanced service ${on.origin}${on.prefix} (${service === undefined ? '`baseURL`' : '`serviceUrl`'})`,
    )
  }
  return path
}

/**
 * A path (and query) the WHATWG URL parser would give back unchanged: no dot segments, and no
 * character it percent-encodes, drops or reads as a separator (`\\`, `#`, spaces, quotes, `%2e`).
 */
const PLAIN_PATH = /^(?!.*\/(?:\.|%2e))\/[\w\-.~!$&()*+,;=:@/%]*(?:\?[\w\-.~!$&()*+,;=:@/?%]+)?$/i

/**
 * `full` below `on` without parsing a URL, when `full` is `on`'s origin (as the URL parser prints
 * it) followed by a plain path: what `pathUnder(on, new URL(full))` gives, at a fraction of its cost
 * on every request. Undefined when parsing is needed.
 */
function plainPathUnder(on: ServiceUrl, full: string): string | undefined {
  const origin = on.origin
  if (!full.startsWith(origin)) return undefined
  const rest = full.slice(origin.length)
  if (!PLAIN_PATH.test(rest)) return undefined
  const prefix = on.prefix
  if (prefix === '') return rest
  if (!rest.startsWith(prefix)) return undefined
  const next = rest.charCodeAt(prefix.length)
  // `/api` is under `/api`, `/api/…` and `/api?…` are; `/apix` is not.
  if (Number.isNaN(next) || next === 0x2f || next === 0x3f) return rest.slice(prefix.length)
  return undefined
}

/** The last `baseService` answer: a client's requests share one `baseURL`. */
let lastBase: string | undefined
let lastBaseService: ServiceUrl | undefined

/** The service an absolute `baseURL` names: its origin (its path stays part of each request). */
function baseService(base: string | undefined): ServiceUrl | undefined {
  if (base === undefined) return undefined
  if (base !== lastBase) {
    lastBaseService = parseBaseService(base)
    lastBase = base
  }
  return lastBaseService
}

function parseBaseService(base: string): ServiceUrl | undefined {
  if (!ABSOLUTE.test(base)) return undefined
  try {
    const url = new URL(base)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    return { origin: url.origin, prefix: '' }
  } catch {
    return undefined
  }
}
