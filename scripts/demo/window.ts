// Samples over a sliding window of time, and the percentiles the demo prints.

/** Values recorded with their time, kept for `spanMs`. */
export class SampleWindow {
  readonly #spanMs: number
  readonly #times: number[] = []
  readonly #values: number[] = []
  #head = 0

  constructor(spanMs: number) {
    this.#spanMs = spanMs
  }

  add(now: number, value: number): void {
    this.#times.push(now)
    this.#values.push(value)
  }

  /** The values recorded in the last `spanMs` before `now`, sorted ascending. */
  sorted(now: number): number[] {
    const from = now - this.#spanMs
    while (this.#head < this.#times.length && this.#times[this.#head]! < from) this.#head++
    if (this.#head > 4096) {
      this.#times.splice(0, this.#head)
      this.#values.splice(0, this.#head)
      this.#head = 0
    }
    return this.#values.slice(this.#head).sort((a, b) => a - b)
  }
}

/** The `p`-th percentile (0–100) of ascending `sorted` values (nearest rank), or NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** `12 ms`, `1.4 ms`, or `–` for no data. */
export function ms(value: number): string {
  if (Number.isNaN(value)) return '–'
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`
}
