// The fleet's observations and the rule that turns them into suspects. Pure: no I/O, times come
// from the caller's injected clock (receipt time, never the sender's: clocks across hosts skew).
//
// Observations, not verdicts: each instance reports what it saw (its own ejections, its per-endpoint
// success/failure counts); every instance applies the same rule to the same observations. A quorum
// of distinct reporters is required for either rule, so one instance (a partitioned or rogue one
// whose calls all fail) can never eject an endpoint elsewhere — the failure mode Polly's maintainers
// warn about for naively shared breaker state (App-vNext/Polly#259). The ratio rule is Envoy's
// failure-percentage outlier rule (`failure_percentage_threshold`, `failure_percentage_request_volume`)
// applied to the fleet's pooled counts.

/** The rule's settings (resolved options). */
export interface LedgerRule {
  /** Distinct instances needed. */
  readonly quorum: number
  /** ms an observation counts. */
  readonly window: number
  /** Failure percentage (0–100) at which the pooled ratio makes an endpoint suspect. */
  readonly failureThreshold: number
  /** Attempts an instance must have reported within the window for its counts to count. */
  readonly requestVolume: number
  /** Instances remembered at most (bounded memory); reports from more are dropped. */
  readonly maxInstances: number
}

interface Count {
  at: number
  ok: number
  fail: number
}

/** Why an endpoint is suspect, for the ejection's reason. */
export type Suspicion =
  | { readonly rule: 'quorum'; readonly instances: number }
  | { readonly rule: 'failure-ratio'; readonly instances: number; readonly percent: number }

/** The longest count history kept per instance and endpoint (bounds memory whatever the rate). */
const MAX_COUNTS = 64

export class Ledger {
  readonly #rule: LedgerRule
  /** endpoint id → instance id → time it reported the ejection. */
  readonly #ejections = new Map<string, Map<string, number>>()
  /** endpoint id → instance id → recent counts. */
  readonly #counts = new Map<string, Map<string, Count[]>>()
  /** instance id → last time heard from. */
  readonly #instances = new Map<string, number>()

  constructor(rule: LedgerRule) {
    this.#rule = rule
  }

  /** Instances heard from within the window. */
  instances(now: number): number {
    this.#pruneInstances(now)
    return this.#instances.size
  }

  /** Records that `instance` ejected `endpoint` (by any of its own detectors). False when dropped. */
  ejected(instance: string, endpoint: string, now: number): boolean {
    if (!this.#heard(instance, now)) return false
    let by = this.#ejections.get(endpoint)
    if (by === undefined) this.#ejections.set(endpoint, (by = new Map()))
    by.set(instance, now)
    return true
  }

  /** Records that `instance` restored `endpoint`: its ejection no longer counts. */
  restored(instance: string, endpoint: string, now: number): boolean {
    if (!this.#heard(instance, now)) return false
    const by = this.#ejections.get(endpoint)
    by?.delete(instance)
    if (by?.size === 0) this.#ejections.delete(endpoint)
    return true
  }

  /** Records `instance`'s success/failure counts for `endpoint` over its last report interval. */
  counted(instance: string, endpoint: string, ok: number, fail: number, now: number): boolean {
    if (!this.#heard(instance, now)) return false
    let by = this.#counts.get(endpoint)
    if (by === undefined) this.#counts.set(endpoint, (by = new Map()))
    let list = by.get(instance)
    if (list === undefined) by.set(instance, (list = []))
    list.push({ at: now, ok, fail })
    if (list.length > MAX_COUNTS) list.shift()
    return true
  }

  /** Why `endpoint` is suspect now, or undefined. */
  suspect(endpoint: string, now: number): Suspicion | undefined {
    const { quorum, window } = this.#rule
    const by = this.#ejections.get(endpoint)
    if (by !== undefined) {
      for (const [instance, at] of by) if (now - at >= window) by.delete(instance)
      if (by.size === 0) this.#ejections.delete(endpoint)
      else if (by.size >= quorum) return { rule: 'quorum', instances: by.size }
    }
    return this.#ratio(endpoint, now)
  }

  /** `instance`'s own totals within the window, per endpoint id. */
  totals(instance: string, endpoint: string, now: number): { ok: number; fail: number } {
    const list = this.#counts.get(endpoint)?.get(instance)
    let ok = 0
    let fail = 0
    if (list !== undefined) {
      for (const c of list) {
        if (now - c.at >= this.#rule.window) continue
        ok += c.ok
        fail += c.fail
      }
    }
    return { ok, fail }
  }

  /** Other instances' totals for `endpoint` within the window (excluding `self`). */
  othersTotals(self: string, endpoint: string, now: number): { ok: number; fail: number; instances: number } {
    const by = this.#counts.get(endpoint)
    let ok = 0
    let fail = 0
    let instances = 0
    if (by !== undefined) {
      for (const instance of by.keys()) {
        if (instance === self) continue
        const t = this.totals(instance, endpoint, now)
        if (t.ok + t.fail === 0) continue
        ok += t.ok
        fail += t.fail
        instances++
      }
    }
    return { ok, fail, instances }
  }

  /** Forgets an endpoint that left the balancer. */
  forget(endpoint: string): void {
    this.#ejections.delete(endpoint)
    this.#counts.delete(endpoint)
  }

  /** Drops everything older than the window (called on each report tick). */
  prune(now: number): void {
    const { window } = this.#rule
    this.#pruneInstances(now)
    for (const [endpoint, by] of this.#counts) {
      for (const [instance, list] of by) {
        while (list.length > 0 && now - list[0]!.at >= window) list.shift()
        if (list.length === 0) by.delete(instance)
      }
      if (by.size === 0) this.#counts.delete(endpoint)
    }
    for (const endpoint of [...this.#ejections.keys()]) this.suspect(endpoint, now)
  }

  #ratio(endpoint: string, now: number): Suspicion | undefined {
    const { quorum, failureThreshold, requestVolume } = this.#rule
    const by = this.#counts.get(endpoint)
    if (by === undefined || by.size < quorum) return undefined
    let ok = 0
    let fail = 0
    let reporters = 0
    let over = 0
    for (const instance of by.keys()) {
      const t = this.totals(instance, endpoint, now)
      if (t.ok + t.fail < requestVolume) continue
      reporters++
      ok += t.ok
      fail += t.fail
      if (t.fail * 100 >= failureThreshold * (t.ok + t.fail)) over++
    }
    // Both the pooled ratio and a quorum of instances on their own: a single instance whose calls
    // all fail, however many it sends, cannot carry the pool.
    if (reporters < quorum || over < quorum) return undefined
    const percent = (fail * 100) / (ok + fail)
    if (percent < failureThreshold) return undefined
    return { rule: 'failure-ratio', instances: over, percent: Math.round(percent) }
  }

  #heard(instance: string, now: number): boolean {
    if (!this.#instances.has(instance) && this.#instances.size >= this.#rule.maxInstances) {
      this.#pruneInstances(now)
      if (this.#instances.size >= this.#rule.maxInstances) return false
    }
    this.#instances.set(instance, now)
    return true
  }

  #pruneInstances(now: number): void {
    for (const [instance, at] of this.#instances) {
      if (now - at < this.#rule.window) continue
      this.#instances.delete(instance)
      for (const by of this.#ejections.values()) by.delete(instance)
      for (const by of this.#counts.values()) by.delete(instance)
    }
  }
}
