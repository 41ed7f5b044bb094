import { VERDICT_HINT } from '../../classify/classify.ts'
import { KeelError } from '../../model/errors.ts'

/**
 * An adapter needs an optional peer dependency that is not installed (`undici` for `createFetch`
 * with TLS options or an endpoint `servername`). It is the installation's fault, not an
 * endpoint's: the attempt it ends is `cancelled` (nothing is charged to the endpoint, nothing is
 * retried — every endpoint would fail the same), and the call rejects with this error.
 */
export class MissingPeerError extends KeelError {
  /** The npm package to install. */
  readonly peer: string

  constructor(peer: string, feature: string, cause: unknown) {
    super('KEEL_MISSING_PEER', `${feature} needs the optional peer dependency '${peer}': npm install ${peer}`, {
      cause,
    })
    this.peer = peer
    Object.defineProperty(this, VERDICT_HINT, { value: 'cancelled' })
  }
}

/** Whether `error` is the module loader failing to find `peer` itself (not one of its imports). */
function isMissing(error: unknown, peer: string): boolean {
  const e = error as { code?: unknown; message?: unknown } | null
  if (typeof e !== 'object' || e === null) return false
  if (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND') return false
  return typeof e.message === 'string' && (e.message.includes(`'${peer}'`) || e.message.includes(`"${peer}"`))
}

/**
 * Loads an optional peer dependency for an adapter, the one place adapters do so: `load` is the
 * literal `() => import('undici')` (bundlers need the specifier written out). A missing package
 * becomes a `MissingPeerError` (`KEEL_MISSING_PEER`) naming it; any other failure passes through.
 */
export async function loadPeer<T>(peer: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (error) {
    throw isMissing(error, peer) ? new MissingPeerError(peer, feature, error) : error
  }
}
