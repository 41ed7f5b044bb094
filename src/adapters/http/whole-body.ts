/**
 * How much of a response body keel holds back before the caller sees the response: a retryable
 * error answer while keel decides whether to retry it, and a small answer to an idempotent request
 * until its body has arrived whole, so that a reset or a stall in the middle of that body is an
 * attempt failure keel retries on another endpoint, not an error the caller reads (nginx's
 * `proxy_buffering` does the same for a proxied response, up to its buffers).
 */
export const HOLD_LIMIT = 64 * 1024

/**
 * Whether a response whose `Content-Length` is `value` is held until its body ends: a declared
 * length of at most `HOLD_LIMIT`. A response without one (chunked, a stream, server-sent events)
 * is handed over at once, so streaming is never delayed.
 */
export function heldWhole(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > 6) return false
  const length = Number(value)
  return length >= 0 && length <= HOLD_LIMIT
}

/** `Content-Length` from undici's raw headers (`[name, value, name, value, …]` as Buffers or strings). */
export function rawContentLength(raw: readonly unknown[] | null | undefined): string | undefined {
  if (raw === null || raw === undefined) return undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as { length: number; toString(): string }
    // Only a 14-byte name can be `content-length`: no string is made for any other header.
    if (name.length === 14 && name.toString().toLowerCase() === 'content-length') return String(raw[i + 1])
  }
  return undefined
}
