import { type HeaderBag, headerValue } from './headers.ts'

/** RFC 9110 §9.2.2: methods whose repetition has the effect of one request. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/**
 * Whether an HTTP request may run more than once (docs/retries.md): the caller's explicit answer
 * first, then the method, then an `Idempotency-Key` header (IETF draft
 * httpapi-idempotency-key-header: the server deduplicates by it, so a POST may be replayed).
 */
export function isIdempotentRequest(method: string, explicit: boolean | undefined, headers: HeaderBag): boolean {
  if (explicit !== undefined) return explicit
  // The usual spellings compare as pointers (interned strings); the set catches the rest.
  if (method === 'GET' || method === 'HEAD') return true
  if (IDEMPOTENT_METHODS.has(method) || IDEMPOTENT_METHODS.has(method.toUpperCase())) return true
  return headerValue(headers, 'idempotency-key') !== undefined
}
