import type { PickContext, Picker, PickerBuildContext, PickerEndpoint, PickerFactory } from './picker.ts'

/**
 * Round-robin (gRPC `round_robin`, Envoy ROUND_ROBIN): each pick takes the next endpoint. The
 * cursor starts at a random offset, so a fleet of clients does not march in step, and it carries
 * over rebuilds, so a membership change does not send the next pick back to the first endpoint.
 * Weights are ignored: use `weighted-round-robin` when they differ.
 */
class RoundRobinPicker implements Picker {
  readonly #endpoints: readonly PickerEndpoint[]
  cursor: number

  constructor(endpoints: readonly PickerEndpoint[], cursor: number) {
    this.#endpoints = endpoints
    this.cursor = cursor
  }

  pick(context: PickContext): PickerEndpoint | undefined {
    const endpoints = this.#endpoints
    const n = endpoints.length
    const max = context.maxInFlight
    for (let tries = 0; tries < n; tries++) {
      const i = this.cursor
      this.cursor = i + 1 >= n ? 0 : i + 1
      const e = endpoints[i]!
      if (e.inFlight < max && !context.skipped(e)) return e
    }
    return undefined
  }
}

export function roundRobin(): PickerFactory {
  return {
    name: 'round-robin',
    build(endpoints: readonly PickerEndpoint[], context: PickerBuildContext): Picker {
      const n = endpoints.length
      const previous = context.previous instanceof RoundRobinPicker ? context.previous.cursor : undefined
      const cursor = n === 0 ? 0 : previous === undefined ? Math.floor(context.random() * n) : previous % n
      return new RoundRobinPicker(endpoints, cursor)
    },
  }
}
