import type { EndpointInput } from '../endpoint.ts'

/** One answer from a discovery source: the whole current endpoint set, or why it failed. */
export type DiscoveryUpdate =
  | { readonly endpoints: readonly EndpointInput[]; readonly error?: undefined }
  | { readonly error: unknown; readonly endpoints?: undefined }

/**
 * Where endpoints come from. `watch` starts delivering snapshots (each the whole set, never a
 * diff) or errors and returns a function that stops it. A plain object is enough.
 */
export interface Discovery {
  watch(listener: (update: DiscoveryUpdate) => void): () => void
  /** Asks for a fresh answer soon (the balancer calls it when every endpoint is ejected). */
  refresh?(): void
}
