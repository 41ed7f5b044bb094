/**
 * How much two latency estimates may differ and still be read as the same latency.
 *
 * Latencies measured from a Node client are noisy: event-loop lag, timer granularity, a GC pause
 * on either side and the first connection's handshake add milliseconds to single answers, and
 * between replicas of one service the spread of a few answers is tens of percent. Comparing two
 * estimates that differ only by that noise ranks replicas at random and, at one call at a time,
 * starves whichever one drew the last slow answer. So `p2c-ewma` treats two estimates as equal
 * while the higher is under `NOISE_RATIO` × the lower + `NOISE_FLOOR_MS`, and then compares
 * requests in flight instead (Envoy's least-request, Prequal's requests-in-flight rule); only a
 * difference beyond that band is a real one and ranks by PeakEWMA cost (Finagle, Linkerd).
 *
 * The ratio is 2: replicas several times slower than their peers are the ones worth avoiding
 * (a replica swapping, on a degraded host, behind a cold cache); a replica 1.5× slower under
 * jitter is not told apart reliably from a few samples. The floor is 1 ms: the resolution of
 * Node's timers and a typical event-loop lag, below which sub-millisecond services cannot be
 * ranked at all (a 0.3 ms and a 0.9 ms replica look the same through the event loop).
 */
export const NOISE_RATIO = 2

/** See `NOISE_RATIO`. */
export const NOISE_FLOOR_MS = 1

/**
 * The band also spans this many mean deviations of the quieter of the two endpoints
 * (`PeakEwma.deviationMs`): on a host where every answer swings by tens of milliseconds (CPU
 * contention, a busy event loop), two estimates apart by less than that are not told apart. The
 * quieter one's, so that a replica that is slow *and* erratic cannot widen the band that should
 * keep it out. Quiet endpoints have deviations far under the static band, which then decides alone.
 */
export const NOISE_DEVIATIONS = 2

/** The highest latency still read as equal to `ms` (exclusive): `NOISE_RATIO` × ms + `NOISE_FLOOR_MS`. */
export function bandEdgeMs(ms: number): number {
  return NOISE_RATIO * ms + NOISE_FLOOR_MS
}
