import { isIPv4, isIPv6 } from 'node:net'
import {
  checkObject,
  checkString,
  formatValue,
  INVALID_OPTION,
  isPlainObject,
  rangeError,
  rejectUnknownKeys,
  requireNumber,
  typeError,
} from '../internal/validate.ts'

export type EndpointProtocol = 'http:' | 'https:' | 'grpc:' | 'grpcs:' | 'tcp:'

/** An endpoint as a user writes it: a string or an object. */
export type EndpointInput = string | EndpointObject

/**
 * The object form of an endpoint: either `url` or `host` + `port` (+ `protocol`, `path`), plus
 * balancing attributes.
 */
export interface EndpointObject {
  /** `http://h:p/prefix`, `https://…`, `grpc://…`, `grpcs://…`, `tcp://…`, `h:p` or `[v6]:p`. */
  readonly url?: string
  readonly protocol?: EndpointProtocol
  readonly host?: string
  readonly port?: number
  /** Path prefix every `resolve()` keeps, e.g. `/api/v2`. @default '' */
  readonly path?: string
  /** Relative share of traffic, an integer from 1 to 65535. @default 1 */
  readonly weight?: number
  /** 0 is the primary level; higher levels take traffic as lower ones lose health. @default 0 */
  readonly priority?: number
  /** The zone the endpoint runs in: with the balancer's `localZone`, calls prefer their own zone (docs/zones.md). */
  readonly zone?: string
  /** TLS SNI, certificate name and `Host` when `host` is an IP. @default the balancer's `servername` */
  readonly servername?: string
  /** Free-form data for your own pickers, clients and metrics. */
  readonly metadata?: Readonly<Record<string, unknown>>
}

export interface ParseEndpointOptions {
  /** Protocol of a bare `host:port`. @default 'tcp:' */
  readonly defaultProtocol?: EndpointProtocol
  /** `servername` for endpoints that give none. */
  readonly servername?: string
  /** Option name used in error messages. @default 'endpoint' */
  readonly option?: string
}

const PROTOCOLS: readonly EndpointProtocol[] = ['http:', 'https:', 'grpc:', 'grpcs:', 'tcp:']
const DEFAULT_PORTS: Readonly<Record<string, number | undefined>> = {
  'http:': 80,
  'https:': 443,
  'grpc:': 80,
  'grpcs:': 443,
}
const OBJECT_KEYS = [
  'url',
  'protocol',
  'host',
  'port',
  'path',
  'weight',
  'priority',
  'zone',
  'servername',
  'metadata',
] as const
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/
const PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*$/
export const MAX_WEIGHT = 65_535
export const MAX_PRIORITY = 1_000

/**
 * A parsed endpoint: where it is and how to balance it. Immutable. The id is
 * `protocol//lowercase-host:port` plus the path prefix (no trailing slash); keel keeps an
 * endpoint's state (latency, breaker, ejections, clients) across updates that keep its id.
 */
export class EndpointInfo {
  readonly id: string
  readonly protocol: EndpointProtocol
  /** Lowercase host name or IP, IPv6 without brackets. */
  readonly host: string
  readonly port: number
  /** Path prefix: '' or '/segment…' without a trailing slash. */
  readonly path: string
  readonly weight: number
  readonly priority: number
  readonly zone: string | undefined
  readonly servername: string | undefined
  readonly metadata: Readonly<Record<string, unknown>> | undefined
  /** `host:port`, IPv6 in brackets: what a `Host` header or a socket address string needs. */
  readonly authority: string
  /** `scheme://authority`, e.g. `http://10.0.0.1:8080`: what `new Pool(origin)` needs. */
  readonly origin: string
  readonly #base: string

  constructor(fields: {
    protocol: EndpointProtocol
    host: string
    port: number
    path: string
    weight: number
    priority: number
    zone: string | undefined
    servername: string | undefined
    metadata: Readonly<Record<string, unknown>> | undefined
  }) {
    this.protocol = fields.protocol
    this.host = fields.host
    this.port = fields.port
    this.path = fields.path
    this.weight = fields.weight
    this.priority = fields.priority
    this.zone = fields.zone
    this.servername = fields.servername
    this.metadata = fields.metadata
    this.authority = isIPv6(fields.host) ? `[${fields.host}]:${fields.port}` : `${fields.host}:${fields.port}`
    this.origin = `${fields.protocol}//${this.authority}`
    this.id = this.origin + fields.path
    this.#base = this.id
  }

  /**
   * Joins a path (with query and fragment) onto the endpoint, keeping its prefix:
   * `http://h:8080/api` + `/users/42?x=1` → `http://h:8080/api/users/42?x=1`.
   */
  resolve(path: string): string {
    const first = path.charCodeAt(0)
    if (first === 47 /* / */) return this.#base + path
    if (path.length === 0) return this.path === '' ? `${this.#base}/` : this.#base
    if (first === 63 /* ? */ || first === 35 /* # */) return (this.path === '' ? `${this.#base}/` : this.#base) + path
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      throw typeError('path', 'a path relative to the endpoint (absolute URLs are not joined)', path)
    }
    return `${this.#base}/${path}`
  }

  /** Same fields, some replaced: how updates keep an id but change weight or priority. */
  with(changes: Partial<Pick<EndpointInfo, 'weight' | 'priority' | 'zone' | 'servername' | 'metadata'>>): EndpointInfo {
    return new EndpointInfo({ ...this.#fields(), ...changes })
  }

  /** True when every field except the id-forming ones is equal too. */
  sameAs(other: EndpointInfo): boolean {
    return (
      this.id === other.id &&
      this.weight === other.weight &&
      this.priority === other.priority &&
      this.zone === other.zone &&
      this.servername === other.servername &&
      this.metadata === other.metadata
    )
  }

  toString(): string {
    return this.id
  }

  toJSON(): Record<string, unknown> {
    const { metadata, zone, servername, ...rest } = this.#fields()
    return {
      id: this.id,
      ...rest,
      ...(zone === undefined ? {} : { zone }),
      ...(servername === undefined ? {} : { servername }),
      ...(metadata === undefined ? {} : { metadata }),
    }
  }

  #fields() {
    return {
      protocol: this.protocol,
      host: this.host,
      port: this.port,
      path: this.path,
      weight: this.weight,
      priority: this.priority,
      zone: this.zone,
      servername: this.servername,
      metadata: this.metadata,
    }
  }
}

function invalid(option: string, input: unknown, problem: string): RangeError {
  const error = new RangeError(`Expected \`${option}\` to be a valid endpoint, got ${formatValue(input)}: ${problem}`)
  Object.defineProperty(error, 'code', { value: INVALID_OPTION, enumerable: true })
  Object.defineProperty(error, 'option', { value: option, enumerable: true })
  return error
}

interface Address {
  protocol: EndpointProtocol
  host: string
  port: number
  path: string
}

function checkHost(option: string, input: unknown, host: string): string {
  if (host.length === 0) throw invalid(option, input, 'the host is empty')
  const lower = host.toLowerCase()
  // One id per address: WHATWG URL serialisation gives IPv6 its canonical text (RFC 5952).
  if (isIPv6(lower)) return new URL(`http://[${lower}]`).hostname.slice(1, -1)
  if (/^[\d.]+$/.test(lower)) {
    if (!isIPv4(lower)) throw invalid(option, input, `"${host}" is not a valid IPv4 address`)
    return lower
  }
  if (lower.includes(':')) throw invalid(option, input, 'an IPv6 address needs brackets, as in [::1]:8080')
  if (!HOSTNAME.test(lower)) throw invalid(option, input, `"${host}" is not a valid host name`)
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function checkPort(option: string, input: unknown, port: string | number): number {
  const n = typeof port === 'number' ? port : /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    throw invalid(option, input, `port ${formatValue(port)} is not an integer from 1 to 65535`)
  }
  return n
}

function checkPath(option: string, input: unknown, path: string): string {
  if (path === '' || path === '/') return ''
  if (path.includes('?') || path.includes('#'))
    throw invalid(option, input, 'an endpoint cannot carry a query or fragment')
  if (!path.startsWith('/') || !PATH.test(path)) throw invalid(option, input, `path "${path}" is not a valid URL path`)
  return path.replace(/\/+$/, '')
}

function hasControlCharacter(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

function parseAddress(option: string, input: string, defaultProtocol: EndpointProtocol): Address {
  if (input.length === 0) throw invalid(option, input, 'the string is empty')
  if (/\s/.test(input) || hasControlCharacter(input)) {
    throw invalid(option, input, 'it contains white space or control characters')
  }
  let protocol = defaultProtocol
  let rest = input
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)
  if (scheme) {
    const name = `${scheme[1]!.toLowerCase()}:`
    if (!(PROTOCOLS as readonly string[]).includes(name)) {
      throw invalid(option, input, `unsupported protocol "${name}" (use ${PROTOCOLS.join(', ')})`)
    }
    protocol = name as EndpointProtocol
    rest = input.slice(scheme[0].length)
  } else if (/^[a-z][a-z0-9+.-]*:\/?(?=[^\d/])/i.test(input)) {
    throw invalid(option, input, 'expected "scheme://host:port", "host:port" or "[v6]:port"')
  }
  const slash = rest.search(/[/?#]/)
  const authority = slash === -1 ? rest : rest.slice(0, slash)
  const path = slash === -1 ? '' : rest.slice(slash)
  if (!scheme && path !== '') throw invalid(option, input, 'a path needs a scheme, as in http://host:port/prefix')
  if (authority.includes('@')) throw invalid(option, input, 'credentials do not belong in an endpoint')
  let host: string
  let port: string | undefined
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']')
    if (close === -1) throw invalid(option, input, 'the IPv6 address is missing its closing "]"')
    host = authority.slice(1, close)
    if (!isIPv6(host)) throw invalid(option, input, `"${host}" is not a valid IPv6 address`)
    const after = authority.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) throw invalid(option, input, 'expected ":port" after "]"')
    port = after === '' ? undefined : after.slice(1)
  } else {
    const colon = authority.lastIndexOf(':')
    if (colon !== authority.indexOf(':'))
      throw invalid(option, input, 'an IPv6 address needs brackets, as in [::1]:8080')
    host = colon === -1 ? authority : authority.slice(0, colon)
    port = colon === -1 ? undefined : authority.slice(colon + 1)
  }
  let portNumber: number
  if (port === undefined || port === '') {
    const fallback = DEFAULT_PORTS[protocol]
    if (fallback === undefined || port === '') throw invalid(option, input, 'the port is missing')
    portNumber = fallback
  } else {
    portNumber = checkPort(option, input, port)
  }
  return { protocol, host: checkHost(option, input, host), port: portNumber, path: checkPath(option, input, path) }
}

function parseObject(option: string, input: EndpointObject, defaultProtocol: EndpointProtocol): Address {
  const { url, host, port, protocol, path } = input
  if (url !== undefined) {
    if (typeof url !== 'string') throw typeError(`${option}.url`, 'a string', url)
    if (host !== undefined || port !== undefined || protocol !== undefined || path !== undefined) {
      throw typeError(option, 'either `url` or `host`/`port`/`protocol`/`path`, not both', input)
    }
    return parseAddress(`${option}.url`, url, defaultProtocol)
  }
  if (host === undefined) throw typeError(option, 'an endpoint object with `url` or `host` and `port`', input)
  if (typeof host !== 'string') throw typeError(`${option}.host`, 'a string', host)
  let resolvedProtocol = defaultProtocol
  if (protocol !== undefined) {
    if (!(PROTOCOLS as readonly unknown[]).includes(protocol)) {
      throw rangeError(`${option}.protocol`, `one of ${PROTOCOLS.map((p) => `'${p}'`).join(', ')}`, protocol)
    }
    resolvedProtocol = protocol
  }
  let resolvedPort: number
  if (port === undefined) {
    const fallback = DEFAULT_PORTS[resolvedProtocol]
    if (fallback === undefined) throw typeError(`${option}.port`, 'an integer from 1 to 65535', port)
    resolvedPort = fallback
  } else {
    resolvedPort = requireNumber(`${option}.port`, port, { integer: true, min: 1, max: 65_535 })
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  const resolvedPath =
    path === undefined ? '' : checkPath(`${option}.path`, input, String(checkString(`${option}.path`, path, false)))
  return {
    protocol: resolvedProtocol,
    host: checkHost(`${option}.host`, input, bare),
    port: resolvedPort,
    path: resolvedPath,
  }
}

/**
 * Parses an endpoint with keel's own rules (never `new URL` alone): `http://h:p/prefix`,
 * `https://…`, `grpc://…`, `grpcs://…`, `tcp://…`, a bare `h:p` or `[v6]:p` (`defaultProtocol`),
 * or the object form. Default ports are made explicit (http/grpc 80, https/grpcs 443). Throws a
 * `TypeError` or `RangeError` that names the option and shows the input.
 */
export function parseEndpoint(input: EndpointInput, options: ParseEndpointOptions = {}): EndpointInfo {
  const option = options.option ?? 'endpoint'
  const defaultProtocol = options.defaultProtocol ?? 'tcp:'
  if (input instanceof EndpointInfo) return input
  let address: Address
  let object: EndpointObject | undefined
  if (typeof input === 'string') {
    address = parseAddress(option, input, defaultProtocol)
  } else if (isPlainObject(input)) {
    rejectUnknownKeys(option, input, OBJECT_KEYS)
    object = input
    address = parseObject(option, input, defaultProtocol)
  } else {
    throw typeError(option, 'an endpoint string or object', input)
  }
  const weight =
    object?.weight === undefined
      ? 1
      : requireNumber(`${option}.weight`, object.weight, { integer: true, min: 1, max: MAX_WEIGHT })
  const priority =
    object?.priority === undefined
      ? 0
      : requireNumber(`${option}.priority`, object.priority, { integer: true, min: 0, max: MAX_PRIORITY })
  const zone = checkString(`${option}.zone`, object?.zone)
  const ownServername = checkString(`${option}.servername`, object?.servername)
  if (ownServername !== undefined) checkHost(`${option}.servername`, ownServername, ownServername)
  const metadataObject = checkObject(`${option}.metadata`, object?.metadata)
  return new EndpointInfo({
    ...address,
    weight,
    priority,
    zone,
    servername: ownServername ?? options.servername,
    metadata: metadataObject === undefined ? undefined : Object.freeze({ ...metadataObject }),
  })
}

/**
 * An endpoint as the balancer hands it to your code: the parsed endpoint plus `client`, the
 * per-endpoint client made by the balancer's `createClient` (created on first use, closed when the
 * endpoint finishes draining or the balancer closes). One object per id for the endpoint's life
 * in the balancer: `weight`, `priority`, `zone`, `servername` and `metadata` follow updates.
 */
export interface Endpoint<C = unknown> extends EndpointInfo {
  readonly client: C
}
