import type { EndpointState } from '../core/ports.ts'
import type { Clock } from '../internal/clock.ts'
import type { Random } from '../internal/random.ts'
import { typeError } from '../internal/validate.ts'
import type { EndpointInfo } from '../model/endpoint.ts'
import { BalancerClosedError, EndpointRemovedError } from '../model/errors.ts'

/** How to make and close one kind of per-endpoint resource (a client, a connection pool). */
export interface ResourceSpec<R> {
  create(endpoint: EndpointInfo): R
  close?(resource: R): void | Promise<void>
}

/** A registered resource kind: `get` returns the endpoint's instance, creating it on first use. */
export interface ResourceHandle<R> {
  get(endpoint: EndpointInfo | string): R
}

/** What the registry needs from the balancer. */
export interface ResourceHost {
  readonly clock: Clock
  readonly random: Random
  /** The state of a member or draining endpoint, by id. */
  find(id: string): EndpointState | undefined
  warn(code: string, message: string): void
}

/** The name `createClient`'s resource is registered under. */
export const CLIENT_RESOURCE = 'client'

/**
 * Per-endpoint resources (docs/endpoints.md, "Per-endpoint resources"): each registered kind has at most one live instance per
 * endpoint, created lazily, closed exactly once when the endpoint finishes draining or the
 * balancer closes. With `maxConnectionAge`, an instance older than its jittered age is closed
 * (gracefully, by its `close`) and replaced on the next `get`, so keep-alive traffic re-spreads.
 */
export class ResourceRegistry {
  readonly #host: ResourceHost
  readonly #specs = new Map<string, ResourceSpec<unknown>>()
  readonly #maxAge: number | undefined
  /** Closes still running, so `close()` can wait for them. */
  readonly #closing = new Set<Promise<void>>()
  /** The balancer closed: nothing new is created (it would never be closed). */
  #closed = false

  constructor(host: ResourceHost, maxConnectionAge: number | undefined) {
    this.#host = host
    this.#maxAge = maxConnectionAge
  }

  register<R>(name: string, spec: ResourceSpec<R>): ResourceHandle<R> {
    if (typeof name !== 'string' || name.length === 0) throw typeError('name', 'a non-empty string', name)
    if (typeof spec !== 'object' || spec === null || typeof spec.create !== 'function') {
      throw typeError(`resource('${name}').create`, 'a function', (spec as Partial<ResourceSpec<R>> | null)?.create)
    }
    if (spec.close !== undefined && typeof spec.close !== 'function')
      throw typeError(`resource('${name}').close`, 'a function', spec.close)
    const existing = this.#specs.get(name)
    if (existing !== undefined && existing !== spec) {
      throw typeError(`resource('${name}')`, 'registered once (a name can have one spec per balancer)', name)
    }
    this.#specs.set(name, spec as ResourceSpec<unknown>)
    return {
      get: (endpoint: EndpointInfo | string): R => {
        const id = typeof endpoint === 'string' ? endpoint : endpoint?.id
        const state = typeof id === 'string' ? this.#host.find(id) : undefined
        if (state === undefined) throw new EndpointRemovedError(String(id))
        return this.get(name, state) as R
      },
    }
  }

  has(name: string): boolean {
    return this.#specs.has(name)
  }

  /** The endpoint's instance of `name`, created (or renewed past its age) on demand. */
  get(name: string, state: EndpointState): unknown {
    const slot = state.resources?.get(name)
    if (slot !== undefined) {
      // A draining endpoint keeps its instance: renewing it would open connections to a leaving host.
      if (this.#maxAge === undefined || state.draining || this.#host.clock.now() < slot.expiresAt) return slot.value
      state.resources!.delete(name)
      this.#close(name, slot.value)
    }
    const spec = this.#specs.get(name)
    if (spec === undefined) throw typeError(`resource('${name}')`, 'a registered resource', name)
    if (this.#closed) throw new BalancerClosedError()
    if (state.draining && state.drainEntry === undefined && state.inFlight === 0)
      throw new EndpointRemovedError(state.id)
    const value = spec.create(state.endpoint)
    const now = this.#host.clock.now()
    const age = this.#maxAge
    // ±10% jitter so a fleet's connections do not all renew at once.
    const expiresAt = age === undefined ? Number.POSITIVE_INFINITY : now + age * (0.9 + 0.2 * this.#host.random())
    ;(state.resources ??= new Map()).set(name, { value, createdAt: now, expiresAt })
    return value
  }

  /** The balancer is closing: later `get`s that would create an instance throw `BalancerClosedError`. */
  close(): void {
    this.#closed = true
  }

  /** Closes every resource of `state` (its drain finished, or the balancer is closing). */
  closeAll(state: EndpointState): void {
    const slots = state.resources
    if (slots === undefined) return
    state.resources = undefined
    for (const [name, slot] of slots) this.#close(name, slot.value)
  }

  /** Resolves when every close started so far has finished. */
  async settled(): Promise<void> {
    while (this.#closing.size > 0) await Promise.allSettled([...this.#closing])
  }

  #close(name: string, value: unknown): void {
    const close = this.#specs.get(name)?.close
    if (close === undefined) return
    let result: void | Promise<void>
    try {
      result = close(value)
    } catch (error) {
      this.#host.warn('KEEL_RESOURCE_CLOSE', `Closing resource '${name}' failed: ${String(error)}`)
      return
    }
    if (result === undefined || typeof (result as Promise<void>).then !== 'function') return
    const pending = Promise.resolve(result).then(
      () => {},
      (error: unknown) => this.#host.warn('KEEL_RESOURCE_CLOSE', `Closing resource '${name}' failed: ${String(error)}`),
    )
    this.#closing.add(pending)
    void pending.finally(() => this.#closing.delete(pending))
  }
}
