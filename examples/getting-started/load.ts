// Sends orders to the orders service, 10 at a time, and counts which replica served each one.
// Run: node load.ts 300   (ORDERS_URL overrides http://127.0.0.1:8080)
const base = process.env.ORDERS_URL ?? 'http://127.0.0.1:8080'
const total = Number(process.argv[2] ?? 300)

const servedBy = new Map<string, number>()
let failed = 0
let next = 0
const started = performance.now()

async function worker(): Promise<void> {
  while (next < total) {
    const id = next++
    const res = await fetch(`${base}/orders/${id}`)
    const body = (await res.json()) as { servedBy?: number; error?: string }
    if (!res.ok || body.servedBy === undefined) {
      failed++
      continue
    }
    const replica = String(body.servedBy)
    servedBy.set(replica, (servedBy.get(replica) ?? 0) + 1)
  }
}
await Promise.all(Array.from({ length: 10 }, worker))

const seconds = (performance.now() - started) / 1_000
const spread = [...servedBy].sort().map(([port, n]) => `${port}: ${n}`)
console.log(`${total} orders in ${seconds.toFixed(1)} s, ${failed} failed; served by ${spread.join(', ')}`)
