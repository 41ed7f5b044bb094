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

function toRaw(raw: unknown, parsed: Record<string, unknown> | null | undefined): Buffer[] {
  if (Array.isArray(raw)) return raw.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'latin1')))
  const out: Buffer[] = []
  for (const [name, value] of Object.entries(parsed ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      out.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'))
    }
  }
  return out
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
  return {
    onRequestStart: (controller, context) => h.onConnect?.((reason) => controller.abort(reason as Error), context),
    onRequestUpgrade: (controller, statusCode, headers, socket) =>
      h.onUpgrade?.(statusCode, toRaw(controller.rawHeaders, headers as Record<string, unknown>), socket),
    onResponseStart: (controller, statusCode, headers, statusMessage) => {
      const raw = toRaw(controller.rawHeaders, headers as Record<string, unknown>)
      if (h.onHeaders?.(statusCode, raw, () => controller.resume(), statusMessage ?? '') === false) controller.pause()
    },
    onResponseData: (controller, chunk) => {
      if (h.onData?.(chunk) === false) controller.pause()
    },
    onResponseEnd: (controller, trailers) =>
      h.onComplete?.(toRaw(controller.rawTrailers, trailers as Record<string, unknown>)),
    onResponseError: (_controller, error) => {
      if (h.onError === undefined) throw error
      h.onError(error)
    },
  }
}
