/** How deep `describeError` follows `cause`. */
const MAX_DEPTH = 4
/** Properties worth showing beside a message, when an error has them. */
const PROPERTIES = ['code', 'status', 'statusCode', 'syscall', 'details'] as const

/**
 * One line for an error, following `cause` down to where the real reason usually is: fetch's
 * `TypeError: fetch failed` has the `ECONNREFUSED` two causes down. Each level shows its class,
 * message and the properties that identify it (`code`, `status`…), levels joined by ` ← `:
 * `TypeError: fetch failed ← Error: connect ECONNREFUSED 10.0.0.1:80 (code ECONNREFUSED, syscall connect)`.
 */
export function describeError(error: unknown): string {
  const parts: string[] = []
  let current = error
  for (let depth = 0; depth < MAX_DEPTH && current !== undefined && current !== null; depth++) {
    parts.push(describeOne(current))
    if (typeof current !== 'object') break
    current = (current as { cause?: unknown }).cause
  }
  return parts.length === 0 ? String(error) : parts.join(' ← ')
}

function describeOne(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error)
  const e = error as Record<string, unknown>
  const name = typeof e.name === 'string' ? e.name : (error.constructor?.name ?? 'Error')
  const message = typeof e.message === 'string' ? e.message : ''
  const props: string[] = []
  for (const key of PROPERTIES) {
    const value = e[key]
    if (typeof value === 'string' || typeof value === 'number') {
      // What the message already says is not repeated (`connect ECONNREFUSED …` has code and syscall).
      if (message.includes(String(value))) continue
      props.push(`${key} ${value}`)
    }
  }
  const head = message === '' ? name : `${name}: ${message}`
  return props.length === 0 ? head : `${head} (${props.join(', ')})`
}
