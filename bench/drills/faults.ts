// The drills: each names what goes wrong on replica 0 (or on every replica in turn, for the
// rolling restart) while every client sends the same paced traffic to the three replicas.
export interface Drill {
  readonly id: string
  readonly title: string
  /** A misbehaviour of replica 0's servers (backend.ts), and the share of requests it hits. */
  readonly mode?: string
  readonly rate?: number
  /** When the mode starts (ms after traffic starts; 0: from the first call). */
  readonly at?: number
  /** Packet drops on replica 0: 100 is a blackhole (from `at`), less is random loss (from the start). */
  readonly drop?: number
  /** Replica 0 behind a proxy adding this many ms per round trip. */
  readonly delay?: number
  /** SIGKILL replica 0 and restart it 1 s later; or every replica in turn. */
  readonly kill?: 'one' | 'rolling'
  /** The gRPC client takes part (the fault has a gRPC equivalent). */
  readonly grpc: boolean
}

export const DRILLS: readonly Drill[] = [
  { id: 'sigkill', title: 'SIGKILL, restarted 1 s later', kill: 'one', grpc: true },
  { id: 'rolling', title: 'rolling restart (each replica killed, back 0.5 s later)', kill: 'rolling', grpc: true },
  { id: 'blackhole', title: 'blackhole (every packet dropped)', drop: 100, at: 1_000, grpc: true },
  { id: 'loss', title: '5% packet loss', drop: 5, grpc: true },
  { id: 'delay', title: '200 ms added per round trip', delay: 200, grpc: true },
  { id: 'hang', title: 'hang (no answer, socket open)', mode: 'hang', at: 1_000, grpc: true },
  { id: 'stall', title: 'stalled body (headers, 10% of the body)', mode: 'stall', at: 1_000, grpc: false },
  { id: 'reset', title: 'reset mid-response (50%)', mode: 'reset', rate: 0.5, grpc: false },
  { id: 'e500', title: '500 on 10%', mode: 'e500', rate: 0.1, grpc: true },
  { id: 'big500', title: '500 with a 100 KiB body on 30%', mode: 'big500', rate: 0.3, grpc: false },
  { id: 'e503', title: '503 without Retry-After', mode: 'e503', grpc: true },
  { id: 'e503ra0', title: '503 `Retry-After: 0`', mode: 'e503ra0', grpc: false },
  { id: 'e503bad', title: '503 malformed Retry-After (`1.5`, `-1`, `abc 1`, `1,2`)', mode: 'e503bad', grpc: false },
  { id: 'e429', title: '429 without Retry-After', mode: 'e429', grpc: true },
  {
    id: 'malformed',
    title: 'malformed responses on 30% (garbage, bad status line, negative length, 70 KB header)',
    mode: 'malformed',
    rate: 0.3,
    grpc: false,
  },
]
