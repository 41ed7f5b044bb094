import type { Dispatcher } from 'undici'

/** The handler shape of undici ≤ 7 (Node 22 and 24's built-in fetch still dispatch with it). */
interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | undefined
  onData?(chunk: Buffer): boolean | undefined
  onComplete?(rawTrailers: Buffer[] | null): void
  onError?(error: Error): void
  onUpgrade?(statusCode: number, rawHeaders: Buffer[], socket: unknown): void
}

/**
 * The raw `[name, value, …]` Buffers a legacy handler expects. undici's own raw headers are such
 * Buffers already and go as they are (legacy handlers read them, as undici ≤ 7 handed them over);
 * anything else is converted, or built from the parsed record.
 */
function toRaw(raw: unknown, parsed: Record<string, unknown> | null | undefined): Buffer[] {
  if (Array.isArray(raw)) {
    let buffers = 0
    while (buffers < raw.length && Buffer.isBuffer(raw[buffers])) buffers++
    if (buffers === raw.length) return raw as Buffer[]
    return raw.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'latin1')))
  }
  const out: Buffer[] = []
  if (parsed == null) return out
  for (const name in parsed) {
    const value = parsed[name]
    for (const v of Array.isArray(value) ? value : [value]) {
      out.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'))
    }
  }
  return out
}

/**
 * A legacy handler seen through undici's handler API: one object per request, its methods on the
 * prototype (an object of seven closures would be eight allocations per request).
 */
class LegacyAdapter implements Dispatcher.DispatchHandler {
  readonly #h: LegacyHandler

  constructor(handler: LegacyHandler) {
    this.#h = handler
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#h.onConnect?.((reason) => controller.abort(reason as Error), context)
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: unknown,
  ): void {
    this.#h.onUpgrade?.(statusCode, toRaw(controller.rawHeaders, headers), socket)
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, unknown>,
    statusMessage?: string,
  ): void {
    const raw = toRaw(controller.rawHeaders, headers)
    if (this.#h.onHeaders?.(statusCode, raw, () => controller.resume(), statusMessage ?? '') === false) {
      controller.pause()
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#h.onData?.(chunk) === false) controller.pause()
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, unknown>): void {
    this.#h.onComplete?.(toRaw(controller.rawTrailers, trailers))
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const h = this.#h
    if (h.onError === undefined) throw error
    h.onError(error)
  }
}

/**
 * Adapts a legacy handler to undici's handler API, so `fetch(url, { dispatcher })` works with
 * Node's built-in fetch too (its bundled undici dispatches legacy handlers; undici 8's
 * `Dispatcher1Wrapper` does the same, but only exists in undici ≥ 8).
 */
export function adaptHandler(handler: unknown): Dispatcher.DispatchHandler {
  const h = handler as Dispatcher.DispatchHandler & LegacyHandler
  if (typeof h.onRequestStart === 'function' || typeof h.onResponseStart === 'function') return h
  if (typeof h.onHeaders !== 'function' && typeof h.onConnect !== 'function' && typeof h.onError !== 'function') {
    return h
  }
  return new LegacyAdapter(h) as unknown as Dispatcher.DispatchHandler
}
