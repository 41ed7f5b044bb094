/**
 * True for a request body that can be read only once: a Node stream, a web `ReadableStream`, an
 * (async) iterable or generator. Strings, buffers, typed arrays, `Blob`, `FormData`,
 * `URLSearchParams` and arrays of chunks can be sent again on a retry.
 */
export function isOnceBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer || Array.isArray(body)) return false
  const b = body as Record<string | symbol, unknown>
  // Blob (and File): re-readable.
  if (typeof b.arrayBuffer === 'function' && typeof b.stream === 'function' && typeof b.size === 'number') return false
  // FormData and URLSearchParams: re-serialised on every send.
  if (typeof b.append === 'function' && typeof b.getAll === 'function') return false
  return (
    typeof b.pipe === 'function' ||
    typeof b.getReader === 'function' ||
    typeof b[Symbol.asyncIterator] === 'function' ||
    typeof b[Symbol.iterator] === 'function'
  )
}
