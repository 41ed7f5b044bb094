// Network namespaces for the drills: one per replica, joined to the root namespace by a veth pair
// (root side 10.200.N.1/24, replica side 10.200.N.2/24). Faults that need the network — a
// blackhole, 5% loss — are nftables drop rules inside the replica's namespace; Debian's kernel
// here has no netem, so latency comes from a delaying proxy instead (backend.ts). Only these
// addresses and loopback ever see drill traffic.
import { execFileSync } from 'node:child_process'

export const REPLICAS = 3
export const HTTP_PORT = 8080
export const GRPC_PORT = 50051

export const nsName = (i: number): string => `keeldrill${i}`
export const address = (i: number): string => `10.200.${i}.2`
const hostSide = (i: number): string => `kd${i}h`
const nsSide = (i: number): string => `kd${i}n`

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function quiet(fn: () => void): void {
  try {
    fn()
  } catch {
    // Already gone.
  }
}

/** Removes the drill's namespaces and veth pairs (also leftovers of an interrupted run). */
export function teardownNamespaces(): void {
  for (let i = 0; i < REPLICAS; i++) {
    quiet(() => ip('netns', 'del', nsName(i)))
    quiet(() => ip('link', 'del', hostSide(i)))
  }
}

export function setupNamespaces(): void {
  teardownNamespaces()
  for (let i = 0; i < REPLICAS; i++) {
    const ns = nsName(i)
    ip('netns', 'add', ns)
    ip('link', 'add', hostSide(i), 'type', 'veth', 'peer', 'name', nsSide(i))
    ip('link', 'set', nsSide(i), 'netns', ns)
    ip('addr', 'add', `10.200.${i}.1/24`, 'dev', hostSide(i))
    ip('link', 'set', hostSide(i), 'up')
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address(i)}/24`, 'dev', nsSide(i))
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsSide(i), 'up')
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
  }
}

function nft(i: number, script: string): void {
  execFileSync('ip', ['netns', 'exec', nsName(i), 'nft', '-f', '-'], {
    input: script,
    stdio: ['pipe', 'ignore', 'pipe'],
  })
}

/**
 * Drops packets on the replica's veth in both directions: every packet (`percent` 100, a
 * blackhole: no RST, no ICMP, established connections just stop) or a random `percent` of them.
 */
export function dropPackets(i: number, percent: number): void {
  const match = percent >= 100 ? '' : `numgen random mod 100 < ${percent} `
  nft(
    i,
    `table inet keeldrill {
  chain input { type filter hook input priority 0; policy accept; iifname "${nsSide(i)}" ${match}drop; }
  chain output { type filter hook output priority 0; policy accept; oifname "${nsSide(i)}" ${match}drop; }
}
`,
  )
}

export function clearDrops(i: number): void {
  quiet(() => nft(i, 'delete table inet keeldrill\n'))
}
