// keel demo: why a client-side balancer is worth having, in twenty seconds.
//
// Three local backends (A, B, C) answer in about 5 ms. A client sends them 200 GETs a second
// through `createFetch` with keel's default balancer: the p2c-ewma picker (latency × load),
// per-endpoint circuit breakers, outlier detection, and retries on another backend within a
// retry budget. One option is added: active health checks every 250 ms (`healthCheck: { interval:
// 250 }`; off by default). Passive detection ejects a dead backend at its first refused connection,
// but only a check can tell when it is back: with a short interval it is in rotation again within
// about a second.
//
// Timeline: at 3 s B turns slow (150 ms) and stays slow; at 7 s C dies (listener closed,
// connections cut); at 12 s C comes back; at 20 s the demo stops and prints a summary.
// Every call is an idempotent GET, so keel may retry it: the client should see 0 failures.
//
// Run: npm run demo (a live view in a terminal; one line per second when stdout is not a TTY).
// Exit code 0 when no call failed, 1 otherwise.
import { createFetch } from '../src/adapters/fetch/index.ts'
import { Balancer } from '../src/index.ts'
import { Backend } from './demo/backend.ts'
import { Recorder } from './demo/recorder.ts'
import { line, screen, summary } from './demo/view.ts'

const DURATION_MS = 20_000
const CALLS_PER_SECOND = 200
/** Calls in flight at most: a guard against a runaway queue, never reached when all is well. */
const MAX_IN_FLIGHT = 400
const tty = process.stdout.isTTY === true
const SETUP =
  "keel's defaults (p2c-ewma, circuit breakers, outlier detection, retries within a budget) + health checks every 250 ms"

const backends = [new Backend('A', 5), new Backend('B', 5), new Backend('C', 5)]
const [, b, c] = backends as [Backend, Backend, Backend]
for (const backend of backends) await backend.start()
const urls = new Map(backends.map((x) => [x.name, `127.0.0.1:${x.port}`]))

const balancer = new Balancer({
  endpoints: backends.map((x) => x.url),
  healthCheck: { interval: 250 },
})
const fetch = createFetch(balancer)
const recorder = new Recorder(balancer, new Map(backends.map((x) => [x.port, x.name])))

let phase = 'all three backends answer in about 5 ms'
// Who fails how, and when (elapsed ms): the summary reports on the same windows.
const story = { slow: { name: 'B', from: 3_000, to: DURATION_MS }, dead: { name: 'C', from: 7_000, to: 12_000 } }
const timeline: [number, string, () => unknown][] = [
  [
    story.slow.from,
    'B turns slow: every request takes 150 ms; p2c-ewma moves traffic away from it',
    () => (b.latencyMs = 150),
  ],
  [story.dead.from, 'C dies: listener closed, connections cut; keel retries elsewhere and ejects it', () => c.stop()],
  [story.dead.to, 'C comes back: health checks pass and put it back in rotation', () => c.start()],
]
for (const [at, text, act] of timeline) {
  setTimeout(() => {
    phase = text
    recorder.note(text.split(':')[0]!)
    void act()
  }, at)
}

// Open-loop load: calls start on schedule whatever the latency, as real traffic arrives.
let inFlight = 0
let sent = 0
let n = 0
const started = performance.now()
const load = setInterval(() => {
  const due = Math.floor(((performance.now() - started) * CALLS_PER_SECOND) / 1_000)
  while (sent < due && inFlight < MAX_IN_FLIGHT) {
    sent++
    inFlight++
    const t0 = performance.now()
    fetch(`/work/${n++}`)
      .then(async (res) => {
        await res.arrayBuffer()
        recorder.call(performance.now() - t0, res.ok ? undefined : new Error(`HTTP ${res.status}`))
      })
      .catch((error: unknown) => recorder.call(performance.now() - t0, error))
      .finally(() => inFlight--)
  }
}, 5)

// The views: redraw ~4×/s in a terminal, else one line per second.
let printedEvents = 0
let lastLineAt = 0
const newEvents = () => recorder.events.slice(printedEvents, (printedEvents = recorder.events.length)).map(([, t]) => t)
if (tty) process.stdout.write('\x1b[?25l\x1b[2J')
else {
  console.log(
    `keel demo: ${CALLS_PER_SECOND} GETs/s for ${DURATION_MS / 1_000} s over 3 local backends through createFetch`,
  )
  console.log(`${SETUP}\nB turns slow at 3 s; C dies at 7 s and comes back at 12 s.\n`)
}
const view = setInterval(
  () => {
    const frame = recorder.frame()
    lastLineAt = frame.elapsedMs
    process.stdout.write(
      tty ? screen(frame, recorder, phase, SETUP, DURATION_MS, urls) : `${line(frame, newEvents())}\n`,
    )
  },
  tty ? 250 : 1_000,
)
const restoreCursor = () => tty && process.stdout.write('\x1b[?25h')
process.on('SIGINT', () => {
  restoreCursor()
  process.exit(130)
})

await new Promise((resolve) => setTimeout(resolve, DURATION_MS))
clearInterval(load)
while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10))
clearInterval(view)
const elapsed = recorder.elapsed()
if (tty) process.stdout.write(screen(recorder.frame(), recorder, 'done', SETUP, DURATION_MS, urls))
else if (recorder.elapsed() - lastLineAt > 500 || printedEvents < recorder.events.length)
  console.log(line(recorder.frame(), newEvents()))
restoreCursor()
console.log(summary(recorder, elapsed, story))

await balancer.close()
await Promise.all(backends.map((x) => x.stop()))
process.exit(recorder.counts.failures === 0 ? 0 : 1)
