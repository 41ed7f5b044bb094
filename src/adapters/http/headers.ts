/**
 * Headers in any shape fetch or undici accepts: a `Headers`, a record, a flat `[name, value, …]`
 * array (undici's raw form) or an iterable of `[name, value]` pairs.
 */
export type HeaderBag = unknown

function isPairs(value: unknown): value is Iterable<readonly [unknown, unknown]> {
  return (
    typeof value === 'object' && value !== null && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function'
  )
}

function text(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(String).join(', ')
  if (value === undefined || value === null) return undefined
  return String(value)
}

/** The value of header `name` (lowercase) in `headers`, or undefined. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const get = (headers as { get?: unknown }).get
  if (typeof get === 'function' && typeof (headers as { has?: unknown }).has === 'function') {
    const value = (get as (n: string) => unknown).call(headers, name)
    return value === null ? undefined : text(value)
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && !Array.isArray(headers[0])) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        if (String(headers[i]).toLowerCase() === name) return text(headers[i + 1])
      }
      return undefined
    }
  }
  if (isPairs(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && String(pair[0]).toLowerCase() === name) return text(pair[1])
    }
    return undefined
  }
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) return text((headers as Record<string, unknown>)[key])
  }
  return undefined
}

/**
 * `headers` with header `name` set to `value` unless it is already there, in a shape undici's
 * dispatch accepts (the input's own shape when it is a record or a flat array).
 */
export function withDefaultHeader(headers: HeaderBag, name: string, value: string): HeaderBag {
  if (headerValue(headers, name) !== undefined) return headers
  if (headers === undefined || headers === null) return { [name]: value }
  if (Array.isArray(headers) && (headers.length === 0 || !Array.isArray(headers[0]))) {
    return [...headers, name, value]
  }
  if (isPairs(headers)) {
    const flat: unknown[] = []
    for (const pair of headers) if (Array.isArray(pair)) flat.push(pair[0], pair[1])
    flat.push(name, value)
    return flat
  }
  return { ...(headers as Record<string, unknown>), [name]: value }
}
