// The subset of opossum 10 keel uses. Internal: keel's public types never mention opossum.
declare module 'opossum' {
  import type { EventEmitter } from 'node:events'

  interface StatusBucket {
    fires: number
    failures: number
    successes: number
  }

  class Status {
    readonly window: StatusBucket[]
  }

  interface CircuitBreakerOptions {
    timeout?: number | false
    resetTimeout?: number
    errorThresholdPercentage?: number
    volumeThreshold?: number
    rollingCountTimeout?: number
    rollingCountBuckets?: number
    rollingPercentilesEnabled?: boolean
    enableSnapshots?: boolean
    rotateBucketController?: EventEmitter
    name?: string
    state?: { closed?: boolean; halfOpen?: boolean }
  }

  class CircuitBreaker extends EventEmitter {
    constructor(action: (...args: unknown[]) => unknown, options?: CircuitBreakerOptions)
    readonly opened: boolean
    readonly closed: boolean
    readonly halfOpen: boolean
    readonly isShutdown: boolean
    readonly volumeThreshold: number
    readonly status: Status
    readonly options: { errorThresholdPercentage: number }
    fire(...args: unknown[]): Promise<unknown>
    open(): void
    close(): void
    shutdown(): void
  }

  export default CircuitBreaker
}
