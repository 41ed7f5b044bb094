import type { EndpointInput } from '../model/endpoint.ts'

/** One answer from a discovery source: the whole current endpoint set, or why it failed. */
export type DiscoveryUpdate =
  | { readonly endpoints: readonly EndpointInput[]; readonly error?: undefined }
  | { readonly error: unknown; readonly endpoints?: undefined }

/**
 * Where endpoints come from (docs/discovery.md): a plain object is enough.
 *
 * - `watch(listener)` starts delivering answers and returns a function that stops them. Each
 *   answer is the whole current set (a snapshot, never a diff) or an error. The listener may be
 *   called synchronously inside `watch` (a static list) or later (DNS, a registry). After the
 *   returned function is called the balancer ignores anything the source still delivers.
 * - The balancer diffs snapshots: an id that stays keeps its state, a new one starts, a missing
 *   one drains. An error, or an empty snapshot without `allowEmpty`, keeps the last set and is
 *   reported as `discoveryError`.
 * - `refresh()` (optional) asks for a fresh answer soon. The balancer calls it when no endpoint
 *   is eligible (all ejected, or none left), at most once per second; a source may throttle more.
 */
export interface Discovery {
  watch(listener: (update: DiscoveryUpdate) => void): () => void
  /** Asks for a fresh answer soon (the balancer calls it when no endpoint is eligible). */
  refresh?(): void
}
