type Source = ReadableStream<unknown> | AsyncIterable<unknown> | Iterable<unknown>

/**
 * Bytes of a once-only body kept for a replay. fetch tees request bodies and reads a chunk ahead
 * before it connects, so a request refused at connect has still consumed its first chunk(s): they
 * are kept to send again on the retry. Past this much, nothing can be replayed.
 */
const REPLAY_LIMIT = 1024 * 1024

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk)
  if (chunk instanceof Uint8Array) return chunk
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return new Uint8Array(chunk as ArrayBuffer)
}

/**
 * A request body that can be read once (DESIGN §2.3: sent once, retried only after `not-sent`).
 * Each attempt gets a fresh stream that replays what earlier attempts read from the source, then
 * reads on. `spent` tells when that is no longer possible.
 */
export class OnceBody {
  readonly #source: Source
  #next: (() => Promise<IteratorResult<unknown>>) | undefined
  #stop: ((reason: unknown) => Promise<unknown>) | undefined
  /** What was read from the source, while it fits in `REPLAY_LIMIT`; undefined once it did not. */
  #chunks: Uint8Array[] | undefined = []
  #size = 0
  #ended = false

  constructor(source: Source) {
    this.#source = source
  }

  /** More was read than can be replayed, or a response arrived: no attempt can resend it. */
  get spent(): boolean {
    return this.#chunks === undefined
  }

  /** The body stream for one attempt (high water mark 0: read only as fetch asks). */
  stream(): ReadableStream<Uint8Array> {
    let index = 0
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunks = this.#chunks
          if (chunks !== undefined && index < chunks.length) {
            controller.enqueue(chunks[index++]!)
            return
          }
          if (this.#ended) {
            controller.close()
            return
          }
          const { done, value } = await this.#read()
          if (done) {
            this.#ended = true
            controller.close()
            return
          }
          const bytes = toBytes(value)
          if (this.#chunks !== undefined) {
            this.#size += bytes.byteLength
            if (this.#size <= REPLAY_LIMIT) {
              this.#chunks.push(bytes)
              index++
            } else {
              this.#chunks = undefined
            }
          }
          controller.enqueue(bytes)
        },
        // An attempt's stream is cancelled when it fails; the source stays for a retry.
        cancel: async (reason) => {
          if (this.spent) await this.#stop?.(reason)
        },
      },
      { highWaterMark: 0 },
    )
  }

  /** A response arrived: the body was sent, so the copy kept for a replay can go. */
  sent(): void {
    this.#chunks = undefined
  }

  /** The call failed: release the source as fetch would have. */
  release(reason: unknown): void {
    const source = this.#source as { cancel?: unknown; locked?: unknown; destroy?: unknown }
    if (this.#stop !== undefined) {
      this.#stop(reason).catch(() => {})
    } else if (typeof source.cancel === 'function' && source.locked === false) {
      ;(source as ReadableStream).cancel(reason).catch(() => {})
    } else if (typeof source.destroy === 'function') {
      ;(source as unknown as { destroy(): void }).destroy()
    }
  }

  #read(): Promise<IteratorResult<unknown>> {
    if (this.#next === undefined) {
      const source = this.#source
      if (typeof (source as ReadableStream).getReader === 'function') {
        const reader = (source as ReadableStream<unknown>).getReader()
        this.#next = () => reader.read() as Promise<IteratorResult<unknown>>
        this.#stop = (reason) => reader.cancel(reason)
      } else {
        const iterator =
          typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
            ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
            : (source as Iterable<unknown>)[Symbol.iterator]()
        this.#next = async () => iterator.next()
        this.#stop = async (reason) => iterator.return?.(reason)
      }
    }
    return this.#next()
  }
}
