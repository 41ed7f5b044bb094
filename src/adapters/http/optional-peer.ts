import { MissingPeerError } from '../../model/errors.ts'

/**
 * Loads an optional peer dependency on first use, turning "not installed" into a
 * `MissingPeerError` (`KEEL_MISSING_PEER`) that names the package to install. Every adapter that
 * loads a peer lazily goes through here, so a missing package is always the caller's error
 * (`classify/` rules it `caller-error`): never retried, never charged to the endpoint the attempt
 * happened to be on, which would otherwise be ejected for it.
 *
 * `load` must be the literal `() => import('name')`, so bundlers and tsup keep the import lazy.
 * Node reports a missing package as `ERR_MODULE_NOT_FOUND` from `import()` and `MODULE_NOT_FOUND`
 * from `require()` (what the CommonJS build compiles `import()` to); only a failure that names
 * `peer` is converted: a peer that is installed but broken keeps its own error.
 */
export async function importPeer<T>(peer: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (error) {
    if (isMissing(error, peer)) throw new MissingPeerError(peer, feature, { cause: error })
    throw error
  }
}

function isMissing(error: unknown, peer: string): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false
  return typeof message === 'string' && (message.includes(`'${peer}'`) || message.includes(`"${peer}"`))
}
