/**
 * `Retry-After` (RFC 9110 §10.2.3): `delay-seconds` (`1*DIGIT`) or an `HTTP-date` (§5.6.7) in
 * any of its three formats, which recipients must all accept — IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`)
 * and asctime (`Sun Nov  6 08:49:37 1994`). Nothing else is read: `Date.parse` would turn `1.5`,
 * `-1` or `abc 1` into a date long past (a delay of 0) and `12/31/2099` into the cap, so a
 * malformed value would make a shedding replica look ready at once, or pause it for the maximum.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DAYS = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAYS = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH = `(${MONTHS.join('|')})`
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const IMF_FIXDATE = new RegExp(`^${DAYS}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC850 = new RegExp(`^${LONG_DAYS}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME = new RegExp(`^${DAYS} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`)
const DELAY_SECONDS = /^\d+$/

/** ms since the epoch for a valid calendar date and time, or undefined (`Feb 30`, `25:00:00`). */
function utc(year: number, month: string, day: number, h: string, m: string, s: string): number | undefined {
  const monthIndex = MONTHS.indexOf(month)
  const hours = Number(h)
  const minutes = Number(m)
  const seconds = Number(s)
  // 60: a leap second, which RFC 9110 allows in the grammar; Date.UTC rolls it into the next minute.
  if (hours > 23 || minutes > 59 || seconds > 60) return undefined
  const ms = Date.UTC(year, monthIndex, day, hours, minutes, seconds)
  const check = new Date(ms - (seconds === 60 ? 1000 : 0))
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== monthIndex || check.getUTCDate() !== day)
    return undefined
  return ms
}

/** The `HTTP-date` as ms since the epoch, or undefined when the value is not one. */
export function parseHttpDate(value: string, wallNow: number): number | undefined {
  let match = IMF_FIXDATE.exec(value)
  if (match !== null) return utc(Number(match[3]), match[2]!, Number(match[1]), match[4]!, match[5]!, match[6]!)
  match = RFC850.exec(value)
  if (match !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the most recent
    // past year with the same last two digits.
    const yy = Number(match[3])
    const current = new Date(wallNow).getUTCFullYear()
    let year = current - (current % 100) + yy
    if (year > current + 50) year -= 100
    return utc(year, match[2]!, Number(match[1]), match[4]!, match[5]!, match[6]!)
  }
  match = ASCTIME.exec(value)
  if (match !== null) return utc(Number(match[6]), match[1]!, Number(match[2]!.trim()), match[3]!, match[4]!, match[5]!)
  return undefined
}

/**
 * Parses `Retry-After`: ms to wait (0 for a date in the past), or undefined when absent or
 * unreadable — an unreadable value is treated as no `Retry-After` at all, never as 0 or the cap.
 */
export function parseRetryAfter(value: string | undefined, wallNow: () => number): number | undefined {
  if (value === undefined) return undefined
  // Field values carry no leading or trailing whitespace (RFC 9110 §5.5); trim what a lenient
  // parser or a plain-object header may have kept.
  const trimmed = value.trim()
  if (DELAY_SECONDS.test(trimmed)) return Number(trimmed) * 1000
  const now = wallNow()
  const date = parseHttpDate(trimmed, now)
  return date === undefined ? undefined : Math.max(0, date - now)
}
