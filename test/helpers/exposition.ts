import type { Registry } from 'prom-client'

/**
 * Parses Prometheus text exposition into `name{a="x",b="y"}` → value, labels sorted by name, so
 * tests compare exact samples without depending on label order.
 */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample: ${line}`)
    const [, name, labelText = '', value] = match
    const labels = [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort()
    samples.set(labels.length === 0 ? name! : `${name}{${labels.join(',')}}`, Number(value))
  }
  return samples
}

/** Every sample of `registry` now. */
export async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parseExposition(await registry.metrics())
}

/** The samples of one metric family (`name` and its `_bucket`/`_sum`/`_count` series), as an object. */
export function family(samples: Map<string, number>, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, value] of samples) {
    const base = key.split('{')[0]!
    if (base === name || base === `${name}_bucket` || base === `${name}_sum` || base === `${name}_count`)
      out[key] = value
  }
  return out
}
