/**
 * Option validation with one message format everywhere:
 * ``Expected `retry.retries` to be a non-negative integer, got -1``.
 * A value of the wrong type throws a `TypeError`; one of the right type out of range a `RangeError`.
 * Both carry `code: 'KEEL_INVALID_OPTION'` and the option's dotted name in `option`.
 */

export const INVALID_OPTION = 'KEEL_INVALID_OPTION'

/** Shows a value the way a user would write it, short enough for one line. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return value.name ? `[Function ${value.name}]` : '[Function]'
  if (typeof value === 'symbol') return value.toString()
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return `[Array(${value.length})]`
  if (value instanceof Uint8Array) return `[Uint8Array(${value.length})]`
  try {
    const json = JSON.stringify(value)
    if (json !== undefined) return json.length > 80 ? `${json.slice(0, 77)}...` : json
  } catch {
    // A cyclic or throwing object: fall through to its tag.
  }
  return Object.prototype.toString.call(value)
}

function tag<E extends Error>(error: E, option: string): E {
  Object.defineProperty(error, 'code', { value: INVALID_OPTION, enumerable: true })
  Object.defineProperty(error, 'option', { value: option, enumerable: true })
  return error
}

export function typeError(option: string, expected: string, value: unknown): TypeError {
  return tag(new TypeError(`Expected \`${option}\` to be ${expected}, got ${formatValue(value)}`), option)
}

export function rangeError(option: string, expected: string, value: unknown): RangeError {
  return tag(new RangeError(`Expected \`${option}\` to be ${expected}, got ${formatValue(value)}`), option)
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Throws on the first own key of `object` that is not in `allowed`, suggesting the closest one. */
export function rejectUnknownKeys(prefix: string, object: object, allowed: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue
    const name = prefix ? `${prefix}.${key}` : key
    const suggestion = closest(key, allowed)
    const hint =
      suggestion === undefined ? '' : ` (did you mean \`${prefix ? `${prefix}.${suggestion}` : suggestion}\`?)`
    throw tag(new TypeError(`Unknown option \`${name}\`${hint}`), name)
  }
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = saved
    }
  }
  return row[b.length]!
}

export interface NumberRule {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number
  minExclusive?: boolean
  /** Largest allowed value (inclusive). */
  max?: number
  integer?: boolean
  allowInfinity?: boolean
}

function describeNumber(rule: NumberRule): string {
  const kind = rule.integer ? 'integer' : 'number'
  const a = rule.integer ? 'an integer' : 'a number'
  const { min, max } = rule
  let text: string
  if (min === 0 && rule.minExclusive) text = `a positive ${kind}`
  else if (min === 0) text = `a non-negative ${kind}`
  else if (min === 1 && rule.integer && max === undefined) text = 'a positive integer'
  else if (min !== undefined && max !== undefined) return `${a} from ${min} to ${max}`
  else if (min !== undefined) text = `${a} ${rule.minExclusive ? '>' : '≥'} ${min}`
  else text = rule.integer ? 'an integer' : 'a finite number'
  if (max !== undefined) text += ` ≤ ${max}`
  return rule.allowInfinity ? `${text} or Infinity` : text
}

/** Validates a number option; `undefined` passes through so callers can apply a default. */
export function checkNumber(option: string, value: unknown, rule: NumberRule): number | undefined {
  if (value === undefined) return undefined
  return requireNumber(option, value, rule)
}

export function requireNumber(option: string, value: unknown, rule: NumberRule): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw typeError(option, describeNumber(rule), value)
  if (!Number.isFinite(value)) {
    if (rule.allowInfinity && value === Number.POSITIVE_INFINITY) return value
    throw rangeError(option, describeNumber(rule), value)
  }
  if (rule.integer && !Number.isInteger(value)) throw rangeError(option, describeNumber(rule), value)
  if (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) {
    throw rangeError(option, describeNumber(rule), value)
  }
  if (rule.max !== undefined && value > rule.max) throw rangeError(option, describeNumber(rule), value)
  return value
}

export function checkBoolean(option: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value
  throw typeError(option, 'a boolean', value)
}

export function checkString(option: string, value: unknown, nonEmpty = true): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw typeError(option, nonEmpty ? 'a non-empty string' : 'a string', value)
  if (nonEmpty && value.length === 0) throw rangeError(option, 'a non-empty string', value)
  return value
}

export function checkFunction<F extends Function>(option: string, value: unknown): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw typeError(option, 'a function', value)
  return value as F
}

export function checkObject(option: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(option, 'an object', value)
  return value as Record<string, unknown>
}

export function checkOneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  const list = allowed.map((v) => `'${v}'`).join(', ')
  if (typeof value !== 'string') throw typeError(option, `one of ${list}`, value)
  throw rangeError(option, `one of ${list}`, value)
}

export const PERCENT = { min: 0, max: 100 } as const
/** Longest timer Node can hold (≈24.8 days); longer delays would fire at once. */
export const MAX_TIMER = 2 ** 31 - 1
export const TIMER = { min: 0, minExclusive: true, max: MAX_TIMER } as const

/** An option section: an object with known keys, or undefined when absent. */
export function section(name: string, value: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  const object = checkObject(name, value)
  if (object !== undefined) rejectUnknownKeys(name, object, keys)
  return object
}
