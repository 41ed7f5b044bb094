/** Ends an attempt whose body the caller cancelled or dropped: keel's verdict is `cancelled`. */
class BodyReleased extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'AbortError'
  }
}

/**
 * Reads up to 64 KiB ahead of the caller, so a short body the caller never reads still ends its
 * attempt once it has arrived, and a long one ends when the caller has nearly read it.
 */
const READ_AHEAD: QueuingStrategy<Uint8Array> = { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength }

/**
 * A Response dropped with its body unread holds its socket until it is collected (undici cancels
 * it then); the attempt is released at the same moment instead of staying in flight forever.
 */
const collected = new FinalizationRegistry<() => void>((release) => release())

export interface TrackedBody {
  /** The response handed to the caller: same status, headers and URL, body read through keel. */
  readonly response: Response
  /** Settles when the body ended (resolves), failed or was cancelled (rejects). */
  readonly ended: Promise<void>
}

/**
 * Wraps a response so keel sees its body end: the attempt stays in flight until then (docs/fetch.md), as a streaming download keeps its connection busy.
 */
export function trackBody(res: Response, body: ReadableStream<Uint8Array>): TrackedBody {
  const reader = body.getReader()
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const ended = new Promise<void>((ok, fail) => {
    resolve = ok
    reject = fail
  })
  const token = {}
  let finished = false
  const finish = (error?: unknown): void => {
    if (finished) return
    finished = true
    collected.unregister(token)
    if (error === undefined) resolve()
    else reject(error)
  }
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        return reader.read().then(
          (result) => {
            if (result.done) {
              controller.close()
              finish()
            } else {
              controller.enqueue(result.value)
            }
          },
          (error: unknown) => {
            controller.error(error)
            finish(error)
          },
        )
      },
      cancel(reason) {
        finish(new BodyReleased('The response body was cancelled', reason))
        return reader.cancel(reason)
      },
    },
    READ_AHEAD,
  )
  const response = new (res.constructor as typeof Response)(stream, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  })
  for (const key of ['url', 'redirected', 'type'] as const) Object.defineProperty(response, key, { value: res[key] })
  collected.register(response, release(reader, finish), token)
  return { response, ended }
}

/** Built outside `trackBody`'s scope so the registry's callback cannot keep the response alive. */
function release(reader: ReadableStreamDefaultReader<Uint8Array>, finish: (error: unknown) => void): () => void {
  return () => {
    reader.cancel('The response was garbage-collected with its body unread').catch(() => {})
    finish(new BodyReleased('The response was garbage-collected with its body unread'))
  }
}
