// The demo's two views: a live screen for a terminal, one line per second for logs and CI.
import type { Frame, Recorder } from './recorder.ts'
import { ms, percentile } from './window.ts'

const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.FORCE_COLOR !== '0'
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
const STATE_COLORS: Record<string, number> = {
  active: 32,
  'half-open': 33,
  open: 31,
  ejected: 31,
  unhealthy: 31,
  draining: 33,
}
const state = (s: string) => paint(STATE_COLORS[s] ?? 0, s)
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
const seconds = (msValue: number) => `${(msValue / 1_000).toFixed(1).padStart(4, '0')} s`

function bar(share: number, width = 20): string {
  const full = Math.round(share * width)
  return paint(36, '█'.repeat(full)) + paint(90, '░'.repeat(width - full))
}

/** The live screen, redrawn in place (cursor home, each line cleared to its end). */
export function screen(
  frame: Frame,
  recorder: Recorder,
  phase: string,
  setup: string,
  totalMs: number,
  urls: Map<string, string>,
): string {
  const lines = [
    `${paint(1, 'keel demo')} · ${seconds(frame.elapsedMs)} of ${seconds(totalMs)} · ${phase}`,
    paint(90, setup),
    `calls ${frame.callsPerSecond}/s · p50 ${ms(frame.p50)} · p99 ${ms(frame.p99)} · client-visible failures ${
      frame.failures === 0 ? paint(32, '0') : paint(31, String(frame.failures))
    } · retries ${recorder.counts.retries}`,
    '',
    `  ${'backend'.padEnd(19)}${'share of the last second'.padEnd(27)}${'p50'.padStart(8)}${'p99'.padStart(9)}  in flight  state`,
  ]
  for (const row of frame.rows) {
    lines.push(
      `  ${`${row.name} ${urls.get(row.name) ?? ''}`.padEnd(19)}${bar(row.share)} ${`${Math.round(row.share * 100)}%`.padStart(4)}  ${ms(
        row.p50,
      ).padStart(8)} ${ms(row.p99).padStart(8)}  ${String(row.inFlight).padStart(9)}  ${state(row.state)}`,
    )
  }
  lines.push('', paint(1, 'events'))
  for (const [at, text] of recorder.events.slice(-9)) lines.push(`  ${seconds(at)}  ${text}`)
  return `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`
}

/** One line for the second that just ended, with the events it saw. */
export function line(frame: Frame, events: readonly string[]): string {
  const rows = frame.rows.map(
    (r) => `${r.name} ${`${Math.round(r.share * 100)}%`.padStart(4)} ${ms(r.p50).padStart(7)} ${r.state}`,
  )
  const head = `${seconds(frame.elapsedMs)}  ${String(frame.callsPerSecond).padStart(3)} calls/s  p50 ${ms(frame.p50).padStart(7)}  p99 ${ms(
    frame.p99,
  ).padStart(7)}  failures ${frame.failures}`
  return [head, ...rows].join(' | ') + (events.length > 0 ? `  ← ${events.join('; ')}` : '')
}

/** What the script did to the backends, for the summary's account of what keel did about it. */
export interface Story {
  /** The backend that turned slow, and when (elapsed ms) it was slow. */
  readonly slow: { readonly name: string; readonly from: number; readonly to: number }
  /** The backend that died, when it died and when it came back. */
  readonly dead: { readonly name: string; readonly from: number; readonly to: number }
}

/** The closing summary: what the caller saw, and what keel did to make it so. */
export function summary(recorder: Recorder, elapsedMs: number, story: Story): string {
  const { counts } = recorder
  const sorted = [...recorder.latencies].sort((a, b) => a - b)
  const ok = counts.failures === 0
  const pct = (share: number) => (share > 0 && share < 0.005 ? 'under 1%' : `${Math.round(share * 100)}%`)
  const { slow, dead } = story
  const back = recorder.firstSuccess(dead.name, dead.to) - dead.to
  const window = (w: { from: number; to: number }) => `${w.from / 1_000}–${w.to / 1_000} s`
  const label = (text: string) => `  ${text.padEnd(26)}`
  return [
    '',
    paint(1, `Summary after ${seconds(elapsedMs)}`),
    `${label('calls made')}${counts.calls} (${Math.round(counts.calls / (elapsedMs / 1_000))}/s), every one an idempotent GET`,
    `${label('client-visible failures')}${ok ? paint(32, '0') : paint(31, String(counts.failures))} (expected 0)`,
    `${label('client latency')}p50 ${ms(percentile(sorted, 50))} · p99 ${ms(percentile(sorted, 99))} · max ${ms(sorted.at(-1) ?? Number.NaN)}`,
    '',
    paint(1, 'What keel did'),
    `${label(`${slow.name} slow (${window(slow)})`)}it answered ${pct(recorder.share(slow.name, slow.from + 1_000, slow.to))} of calls after its first slow second (round robin: 33%)`,
    `${label(`${dead.name} down (${window(dead)})`)}${plural(counts.failedAttempts, 'attempt')} failed, ${plural(counts.retries, 'retry', 'retries')} on another backend`,
    `${label('ejections')}${recorder.ejections.length === 0 ? 'none' : recorder.ejections.join(', ')}`,
    `${label(`${dead.name} back in rotation`)}${Number.isNaN(back) ? 'never' : `${ms(back)} after it came back (health checks every 250 ms)`}`,
    ...(ok ? [] : [`${label('first failure')}${String(recorder.firstFailure)}`]),
    '',
  ].join('\n')
}
