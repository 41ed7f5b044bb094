import type { DnsResolver } from '../../src/discovery/dns.ts'
import type { ManualClock } from '../helpers/clock.ts'

type Answer = unknown[] | { code: string } | (() => Promise<unknown[]>)

/** An error shaped like node:dns's (`code` such as 'ENOTFOUND', 'ECONNREFUSED'). */
function dnsError(code: string, name = '?'): Error {
  return Object.assign(new Error(`query ${code} ${name}`), { code })
}

/**
 * A resolver answering from a table the test edits (`set('A', name, records)`), logging each query
 * with the manual clock's time. An answer `{ code }` fails with that code; a function answers
 * with its promise (to hold a query in flight); a missing entry is NXDOMAIN (ENOTFOUND).
 */
export class FakeResolver implements DnsResolver {
  readonly #clock: ManualClock
  readonly #table = new Map<string, Answer>()
  readonly log: string[] = []

  constructor(clock: ManualClock) {
    this.#clock = clock
  }

  set(type: 'A' | 'AAAA' | 'SRV', name: string, answer: Answer): this {
    this.#table.set(`${type} ${name}`, answer)
    return this
  }

  /** Queries of `type` so far, as clock times. */
  times(type: 'A' | 'AAAA' | 'SRV'): number[] {
    return this.log.filter((l) => l.startsWith(`${type} `)).map((l) => Number(l.split('@')[1]))
  }

  resolve4(name: string) {
    return this.#answer('A', name) as Promise<{ address: string; ttl: number }[]>
  }

  resolve6(name: string) {
    return this.#answer('AAAA', name) as Promise<{ address: string; ttl: number }[]>
  }

  resolveSrv(name: string) {
    return this.#answer('SRV', name) as Promise<{ name: string; port: number; priority: number; weight: number }[]>
  }

  async #answer(type: string, name: string): Promise<unknown[]> {
    this.log.push(`${type} ${name} @${this.#clock.now()}`)
    const answer = this.#table.get(`${type} ${name}`)
    if (answer === undefined) throw dnsError('ENOTFOUND', name)
    if (typeof answer === 'function') return answer()
    if (!Array.isArray(answer)) throw dnsError(answer.code, name)
    return answer
  }
}
