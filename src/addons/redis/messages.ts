// The wire format of shared health: one JSON object per Redis message, validated field by field
// before anything reads it (anyone with PUBLISH on the channel can write to it).

/** Version of the format; messages of another version are dropped. */
export const VERSION = 1

/** What one instance tells the others. */
export type Message =
  /** It ejected an endpoint itself (its breaker, outlier detection or health check), or restored it. */
  | {
      readonly v: 1
      readonly from: string
      readonly kind: 'ejected' | 'restored'
      readonly endpoint: string
      readonly detector: string
      readonly reason: string
    }
  /** Its per-endpoint counts since its last report: endpoint id → [successes, failures]. */
  | { readonly v: 1; readonly from: string; readonly kind: 'counts'; readonly counts: Record<string, [number, number]> }

const ID = /^[\x21-\x7e]{1,128}$/
const MAX_TEXT = 200
const MAX_COUNT = 1_000_000_000

/** Why a message was dropped, or the message. */
export type Parsed = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly why: string }

/**
 * Parses and validates a message of at most `maxBytes` bytes whose endpoint ids are all in
 * `isMember`. Never throws.
 */
export function parseMessage(raw: string | Buffer, maxBytes: number, isMember: (id: string) => boolean): Parsed {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
  if (size > maxBytes) return { ok: false, why: `oversized (${size} bytes > ${maxBytes})` }
  let value: unknown
  try {
    value = JSON.parse(raw.toString())
  } catch {
    return { ok: false, why: 'not JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, why: 'not an object' }
  const m = value as Record<string, unknown>
  if (m.v !== VERSION) return { ok: false, why: `unknown version ${String(m.v).slice(0, 20)}` }
  if (typeof m.from !== 'string' || !ID.test(m.from)) return { ok: false, why: 'bad instance id' }
  if (m.kind === 'ejected' || m.kind === 'restored') {
    if (typeof m.endpoint !== 'string' || !isMember(m.endpoint)) return { ok: false, why: 'endpoint is not a member' }
    if (typeof m.detector !== 'string' || m.detector.length > 32) return { ok: false, why: 'bad detector' }
    if (typeof m.reason !== 'string' || m.reason.length > MAX_TEXT) return { ok: false, why: 'bad reason' }
    return {
      ok: true,
      message: { v: 1, from: m.from, kind: m.kind, endpoint: m.endpoint, detector: m.detector, reason: m.reason },
    }
  }
  if (m.kind === 'counts') {
    const counts = m.counts
    if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) return { ok: false, why: 'bad counts' }
    const out: Record<string, [number, number]> = {}
    for (const [id, pair] of Object.entries(counts)) {
      if (!isMember(id)) return { ok: false, why: 'endpoint is not a member' }
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every(isCount)) return { ok: false, why: 'bad counts' }
      out[id] = [pair[0] as number, pair[1] as number]
    }
    return { ok: true, message: { v: 1, from: m.from, kind: 'counts', counts: out } }
  }
  return { ok: false, why: 'unknown kind' }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_COUNT
}
