// The drills' one table, and docs/reliability.md around it.
import { fmt, table } from '../lib.ts'
import type { ClientName } from './clients.ts'
import { DRILLS } from './faults.ts'

interface ClientResult {
  calls: number
  getFailures: number
  postFailures: number
  hung: number
  longestMs: number
  cutOff: boolean
  errors: string[]
}

export interface DrillResult {
  id: string
  names: ClientName[]
  results: Record<string, ClientResult>
  atFaulty: Record<string, number>
  total: Record<string, number>
  duplicates: Record<string, number>
  readmitMs: Record<string, number | null | undefined>
  readmitWindowMs: number
  waitedMs: number
}

export interface Meta {
  node: string
  nginx: string
  haproxy: string
  loadMin: number
  loadMax: number
  seconds: number
  window: number
  cap: number
}

const s = (ms: number) => `${fmt(ms / 1000, 1)} s`

function rows(results: DrillResult[]): (string | number)[][] {
  const out: (string | number)[][] = []
  for (const r of results) {
    const drill = DRILLS.find((d) => d.id === r.id)!
    r.names.forEach((name, i) => {
      const c = r.results[name]!
      const faulty = r.atFaulty[name] ?? 0
      const total = r.total[name] ?? 0
      const readmit = r.readmitMs[name]
      out.push([
        i === 0 ? drill.title : '',
        name,
        c.calls,
        `${c.getFailures} / ${c.postFailures}`,
        c.hung === 0 ? '0' : `${c.hung} (${c.cutOff ? '≥ ' : ''}${s(c.longestMs)})`,
        drill.id === 'rolling' ? '—' : `${faulty} (${total === 0 ? 0 : fmt((100 * faulty) / total, 1)}%)`,
        r.duplicates[name] ?? 0,
        readmit === undefined ? '' : readmit === null ? `> ${s(r.readmitWindowMs)}` : s(readmit),
      ])
    })
  }
  return out
}

export function markdown(results: DrillResult[], meta: Meta): { table: string; page: string } {
  const text = table(
    [
      'drill (replica 0)',
      'client',
      'calls',
      'failed GET / POST',
      'hung (longest)',
      'attempts at replica 0',
      'duplicate POSTs',
      're-admitted after',
    ],
    rows(results),
  )
  const page = `# Reliability drills

\`npm run drills\` (\`bench/drills/\`) breaks one of three real replicas on purpose and counts what
each client's caller sees. keel's four clients run with **default options** beside what a user
would pick instead: undici's \`BalancedPool\`, nginx \`least_conn\` and HAProxy \`leastconn\`, each
configured as commonly recommended for failover (the configs are in \`bench/drills/clients.ts\`).

## How the drills run

- **Replicas.** Three Node processes, each in its own network namespace (\`ip netns\`, a veth pair,
  10.200.N.2), serving HTTP on :8080 and gRPC (the test Echo service) on :50051. Faults hit
  replica 0 (the rolling restart hits all three in turn).
- **Network faults** are nftables drop rules inside the replica's namespace: every packet both
  ways for the blackhole, a random 5% both ways for loss. This kernel has no \`netem\`, so latency
  comes from a TCP proxy in front of replica 0 that holds every chunk for half the added round trip.
- **Traffic.** Every client runs 3 workers, each sending a call, then pausing 25 ms, for
  ${s(meta.window)} (longer for restarts: until every client reached the restarted replicas, or 10 s).
  One call in five is a POST carrying an id; the replicas record every POST they execute, so a
  POST executed twice is counted however it happened. gRPC: GETs are an \`IDEMPOTENT\` method, POSTs
  a plain one; the gRPC client only runs the drills that have a gRPC equivalent (\`UNAVAILABLE\`
  for 503, \`RESOURCE_EXHAUSTED\` for 429, \`INTERNAL\` for 500).
- **Bounded.** After the traffic stops, a drill waits at most ${s(meta.cap)} for calls still running;
  calls still running then are counted as hung with "≥" their age. Each drill runs in its own
  process, and namespaces and processes are removed at the end, on failure and on Ctrl-C.

## Columns

- **failed GET / POST**: calls whose caller got an error or a non-2xx answer. GETs are idempotent,
  so a client could always have retried them elsewhere; a POST can only be retried when it
  provably never left.
- **hung (longest)**: calls that took longer than 5 s, and the longest call of the drill.
- **attempts at replica 0**: requests that reached the faulty replica's server (of all requests
  reaching any replica). Packets dropped by a blackhole never reach it.
- **duplicate POSTs**: executions of a POST id beyond the first, across all replicas.
- **re-admitted after**: time from the restarted replica listening again to its first request
  from this client (the worst replica, in a rolling restart); "> N s" when none came.

## Reading it

- keel's hung calls are the ones already in flight on replica 0 when it went silent: they end at
  the adapters' 15 s idle limit and are retried elsewhere ([default time limits](retries.md#default-time-limits)).
  The proxies' in-flight calls wait for their own limits (nginx 60 s, HAProxy's configured 50 s),
  past the drill's cut-off. keel's gRPC client limits unary attempts without a deadline the same
  way (15 s, \`unaryTimeout\`).
- A response keel has already handed to the caller cannot be retried: a body reset or stalled
  after its head reaches the caller as an error (a GET through \`createFetch\` in the reset drill).
  Non-idempotent POSTs are never replayed after they may have been processed, so some fail
  visibly where a proxy that replays them (HAProxy's \`retry-on\`) executes them twice instead.
- A 429 promises the request was not processed: the replicas do not count a 429'd POST as
  executed, and keel retries it elsewhere.

## Results

${text}

${results.length} drills in ${fmt(meta.seconds)} s; Node ${meta.node}, nginx ${meta.nginx}, ${meta.haproxy};
load average ${fmt(meta.loadMin, 1)}–${fmt(meta.loadMax, 1)} on a 2-core machine shared with other work,
so absolute times are noisy; counts are what matter.
`
  return { table: text, page }
}
