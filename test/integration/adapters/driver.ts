import type { Readable } from 'node:stream'
import type { Balancer } from '../../../src/index.ts'

/** A response read to its end. */
export interface Reply {
  readonly status: number
  readonly body: string
}

/** A response handed over while its body still streams. */
export interface Streaming {
  readonly status: number
  /** The next chunk as text, or `undefined` at the end of the body. */
  next(): Promise<string | undefined>
  /** Everything left of the body, read to its end; rejects with the body's error. */
  rest(): Promise<string>
}

/** One adapter's way of sending requests through a balancer, the same operations for each. */
export interface AdapterClient {
  /** A GET read to its end; `key` routes it with a hash picker. Non-2xx statuses are replies too. */
  get(path: string, options?: { readonly key?: string }): Promise<Reply>
  /** A request with `body` (a string, or a Node stream sent as the adapter's stream body), read to its end. */
  send(method: 'POST' | 'PUT', path: string, body: string | Readable, headers?: Record<string, string>): Promise<Reply>
  /** A GET whose response is handed over as soon as it arrives, its body still streaming. */
  open(path: string): Promise<Streaming>
}

/** What the adapter contract runs against: an adapter, and what its errors look like. */
export interface AdapterDriver {
  readonly name: string
  /** Server keep-alive for this adapter's backends: longer than its client's idle timeout. */
  readonly keepAliveTimeout: number
  client(balancer: Balancer<unknown>): AdapterClient
  /** Checks `error` is the adapter's own rejection for a refused connection. */
  expectRefused(error: unknown): void
  /**
   * Checks `error` is the adapter's own rejection for a body cut by keel's attempt timeout; absent
   * where the adapter does not yet end that attempt as the call's last (the scenario skips it).
   */
  readonly expectAttemptTimeout?: (error: unknown) => void
}

/** A streaming response over `body`'s chunks, each made text by `decode`. */
export function streaming<T>(status: number, body: AsyncIterable<T>, decode: (chunk: T) => string): Streaming {
  const chunks = body[Symbol.asyncIterator]()
  const next = async () => {
    const chunk = await chunks.next()
    return chunk.done ? undefined : decode(chunk.value)
  }
  return {
    status,
    next,
    async rest() {
      let text = ''
      for (let chunk = await next(); chunk !== undefined; chunk = await next()) text += chunk
      return text
    },
  }
}
