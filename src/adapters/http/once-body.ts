type Source = ReadableStream<unknown> | AsyncIterable<unknown> | Iterable<unknown>

/**
 * Bytes of a once-only body kept for a replay. Clients read a body ahead before they connect (fetch
 * tees it and reads a chunk; node:http buffers what is piped into it), so a request refused at
 * connect has still consumed its first chunk(s): they are kept to send again on the retry. Past
 * this much, nothing can be replayed.
 */
const REPLAY_LIMIT = 1024 * 1024

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk)
  if (chunk instanceof Uint8Array) return chunk
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return new Uint8Array(chunk as ArrayBuffer)
}

/**
 * A request body that can be read once (docs/retries.md: sent once, retried only after `not-sent`).
 * Each attempt gets a fresh stream that replays what earlier attempts read from the source, then
 * reads on. `spent` tells when that is no longer possible.
 *
 * The source is read one chunk at a time into one shared list, and only the newest attempt's
 * stream reads on: a failed attempt's stream can still have a read pending (node:http buffers a
 * request body before it connects, and a stream piped into it keeps reading ahead), and a chunk
 * that read returns belongs in the list, in order, for the attempt that replays it.
 */
export class OnceBody {
  readonly #source: Source
  #next: (() => Promise<IteratorResult<unknown>>) | undefined
  #stop: ((reason: unknown) => Promise<unknown>) | undefined
  /** What was read from the source, while it fits in `REPLAY_LIMIT`; undefined once it did not. */
  #chunks: Uint8Array[] | undefined = []
  #size = 0
  /** Chunks read from the source so far, and the last of them (all a spent body still has). */
  #count = 0
  #last: Uint8Array | undefined
  #reading: Promise<void> | undefined
  #ended = false
  /** Streams handed out: only the newest (the live attempt's) reads on. */
  #generation = 0

  constructor(source: Source) {
    this.#source = source
  }

  /** More was read than can be replayed, or a response arrived: no attempt can resend it. */
  get spent(): boolean {
    return this.#chunks === undefined
  }

  /** The body stream for one attempt (high water mark 0: read only as the client asks). */
  stream(): ReadableStream<Uint8Array> {
    const generation = ++this.#generation
    let index = 0
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            if (generation !== this.#generation) {
              // A later attempt took over: this stream's client gave up on it.
              controller.close()
              return
            }
            if (index < this.#count) {
              const chunk = this.#chunks?.[index] ?? (index === this.#count - 1 ? this.#last : undefined)
              if (chunk === undefined) {
                controller.error(new Error('The request body was read past what keel keeps for a replay'))
                return
              }
              index++
              controller.enqueue(chunk)
              return
            }
            if (this.#ended) {
              controller.close()
              return
            }
            await (this.#reading ??= this.#readOne())
          }
        },
        // An attempt's stream is cancelled when it fails; the source stays for a retry.
        cancel: async (reason) => {
          if (this.spent && generation === this.#generation) await this.#stop?.(reason)
        },
      },
      { highWaterMark: 0 },
    )
  }

  /** A response arrived: the body was sent, so the copy kept for a replay can go. */
  sent(): void {
    this.#chunks = undefined
  }

  /** The call failed: release the source as the client would have. */
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

  /** Reads the next chunk into the list (the one read in progress: callers share it). */
  async #readOne(): Promise<void> {
    try {
      const { done, value } = await this.#read()
      if (done) {
        this.#ended = true
        return
      }
      const bytes = toBytes(value)
      this.#count++
      this.#last = bytes
      if (this.#chunks !== undefined) {
        this.#size += bytes.byteLength
        if (this.#size <= REPLAY_LIMIT) this.#chunks.push(bytes)
        else this.#chunks = undefined
      }
    } finally {
      this.#reading = undefined
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
