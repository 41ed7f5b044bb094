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
- No GET failed in the stalled-body and reset drills: those replies declare a small
  \`Content-Length\`, so keel holds them until their body ends and retries the ones that break
  ([responses already handed over](#responses-already-handed-over)); the stalled ones wait for the
  15 s idle limit first (the hung column). A larger or streamed body that breaks after hand-over
  still reaches the caller's read as an error.
  Non-idempotent POSTs are never replayed after they may have been processed, so some fail
  visibly where a proxy that replays them (HAProxy's \`retry-on\`) executes them twice instead.
- **Re-admission.** A replica ejected because connects to it were refused is probed with a TCP
  connect to its port on a backoff from ~1 s (no request spent while it refuses); once a connect
  succeeds it is restored on probation and takes one trial request at a time until one answers
  ([outlier detection](outlier-detection.md#re-admission-probed-back-from-1-s)). The column
  measures from the replica listening to its first request. A client that had barely used the
  replica before it was killed (its attempts at replica 0 under 1%) never ejects it; its latency
  estimate for that replica is high (failures charged while it refused connections, or answers
  slowed in the drill's first second, when every client, replica and proxy starts at once on a
  loaded 2-core host). The default picker re-measures such an estimate once no answer has
  refreshed it for about 1 s: it sends the replica one request, and that answer decides
  ([p2c-ewma](pickers/p2c-ewma.md)), so such a client re-admits the replica within about a second
  of listening too. Before that rule, these clients waited for PeakEWMA's 10 s decay and showed
  "> 10 s" here. keel's gRPC client also waits for its channel to reconnect,
  which keel's channels retry every 250 ms ([gRPC](grpc.md#coming-back-after-a-restart)).
- A 429 promises the request was not processed: the replicas do not count a 429'd POST as
  executed, and keel retries it elsewhere.

## Time limits: idle limits, not a multiple of the latency estimate

keel's default time limits are idle limits (15 s for the response head, 15 s of silence inside the
body; the table beside Envoy's, nginx's and HAProxy's is in
[default time limits](retries.md#default-time-limits)). A rule that treats an idempotent attempt
as lost once it exceeds a multiple of its endpoint's latency estimate, and hedges or retries it,
is **not** on by default:

- **One estimate, many requests.** The estimate is per endpoint, across every request the balancer
  carries: a 2 s report on an endpoint whose estimate is 20 ms (mostly fast lookups) crosses any
  sensible multiple while working fine, and crosses it again on the next replica. The rule would
  turn a slow but healthy request into three attempts and a failure. Envoy's per-try timeout is
  set per route for this reason, and is unset by default (the route's 15 s bounds the request).
- **It amplifies overload.** When every replica slows down together (a shared database, a noisy
  neighbour), every attempt crosses the multiple of a lagging estimate at once, and the rule adds
  retries when the fleet has the least room; the retry budget (20%) would be spent on requests
  that were not lost.
- **Prior art leaves it opt-in.** Envoy's \`hedge_on_per_try_timeout\` defaults to false (and
  needs a per-try timeout); Finagle's backup requests and gRPC's hedging policy are opt-in, with a
  delay set from a latency percentile or fixed. "The Tail at Scale" hedges after the 95th
  percentile, which is keel's \`hedge: { delay: 'p95' }\`.
- **What covers the cases instead.** A replica that stopped answering is caught by the idle
  limits; a replica that answers slowly loses new picks to PeakEWMA (its attempts in flight raise
  its score: under 2% of attempts in the 200 ms drill) without any attempt being abandoned. For
  the tail of idempotent calls, opt in per balancer or call: \`hedge: { delay: 'p95' }\` is the
  rule's "hedge it" (its delay comes from answered attempts only, so losers cannot feed back),
  and \`attemptTimeout\` is its "retry it", with a bound chosen per call rather than derived
  from another request's latency.

## Responses already handed over

keel hands a response to the caller as soon as its head has arrived and was classified, and its
body then streams to the caller, as fetch and undici streams do — with one exception. A **small
answer to an idempotent request** that keel could still retry (a \`Content-Length\` of at most
64 KiB, no request body, retries left) is held until its body has arrived whole, by \`createFetch\`
and \`BalancerDispatcher\` alike (axios reads its responses whole inside the attempt anyway). A
reset or a stall (\`bodyTimeout\`) in the middle of such a body fails the attempt: it is charged to
the replica (\`endpoint-failure\`) and the call is retried elsewhere, so the caller never sees it.
nginx's \`proxy_buffering\` does the same for the responses it buffers. The price: such a response
reaches the caller when its last byte has, not when its head has; for the small bodies it applies
to that is the same network round trip. Streaming is unchanged: a response without a
\`Content-Length\` (chunked, server-sent events), a body over 64 KiB, a request with a body, or the
last attempt keel would make is handed over as it arrives
(\`test/integration/whole-body.test.ts\` pins both sides).

Once a response has been handed over, its body failing mid-way reaches the caller's read as an
error (at once for a reset, after \`bodyTimeout\` for a stall): the attempt is charged to the
replica, but the call cannot be retried, because part of the answer is already in the caller's
hands. The proxies draw the same line: nginx passes a request to the next server "only if nothing
has been sent to a client yet" (\`proxy_next_upstream\`); Envoy retries only until it has started
forwarding the upstream response downstream, and resets the downstream stream when the upstream
resets after that; HAProxy's \`retry-on\` conditions (\`empty-response\`, \`junk-response\`,
\`response-timeout\`…) all concern the time before the response is forwarded.

When a larger or streamed response must not fail this way, read the body inside the attempt, so
the read is part of what is retried:

\`\`\`ts
import { Balancer } from 'keel'

const users = new Balancer({ endpoints: ['http://10.0.1.1:8080', 'http://10.0.1.2:8080'] })
const body = await users.call(
  async (endpoint) => {
    const res = await fetch(endpoint.resolve('/users/42'))
    if (!res.ok) throw Object.assign(new Error(\`HTTP \${res.status}\`), { status: res.status })
    return await res.text() // a reset or stall here fails the attempt, and the call retries it
  },
  { attemptTimeout: 2_000, idempotent: true },
)
\`\`\`

## gRPC: re-admission and stuck streams

Two gRPC defaults, with what they fixed ([gRPC](grpc.md) has the details):

- **Re-admission.** keel grpc came back 1.7–3.4 s after a killed replica listened again: each
  endpoint's channel retried its connection on grpc-js's backoff (1 s, ×1.6, up to 120 s), and a
  re-admission probe that found the channel still backing off failed at once (\`not-sent\`),
  pushing the next probe later. The channels now retry a refused connection every 250 ms
  (\`grpc.initial_reconnect_backoff_ms\` = \`grpc.max_reconnect_backoff_ms\` = 250; your
  \`clientOptions\` win), so the first probe after the replica listens finds it connected:
  \`test/integration/grpc-readmission.test.ts\` (3 s down) measured 0.5–1.5 s, against 2.6 s with
  grpc-js's backoff. The bound is one probe interval plus ≤ 0.3 s: ≤ 2 s for a replica back
  within ~6 s of its ejection.
- **Stuck streams.** Streaming calls had no time limit at all. They now end after 5 minutes
  without a message either way (\`streamIdleTimeout\`, Envoy's \`stream_idle_timeout\` default), never
  for being long; \`streamIdleTimeout: 0\` (per client, or \`{ keel: { streamIdleTimeout: 0 } }\` per
  call) turns it off. Unary calls keep their 15 s per attempt (\`unaryTimeout\`), now enforced on
  keel's own timer rather than as a grpc-js deadline.

## Results

${text}

${results.length} drills in ${fmt(meta.seconds)} s; Node ${meta.node}, nginx ${meta.nginx}, ${meta.haproxy};
load average ${fmt(meta.loadMin, 1)}–${fmt(meta.loadMax, 1)} on a 2-core machine shared with other work,
so absolute times are noisy; counts are what matter.
`
  return { table: text, page }
}
