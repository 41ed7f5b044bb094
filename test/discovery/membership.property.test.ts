import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EndpointState } from '../../src/core/endpoint-state.ts'
import { coreOf } from '../../src/core/port-access.ts'
import { Balancer, type Endpoint, seededRandom, staticDiscovery } from '../../src/index.ts'
import { ManualClock } from '../helpers/clock.ts'

const IDS = ['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80', 'http://10.0.0.4:80']
const DRAIN_TIMEOUT = 1_000
const MAX_AGE = 700

type Step =
  | { kind: 'snapshot'; members: boolean[]; weight: number }
  | { kind: 'call' }
  | { kind: 'finish'; index: number }
  | { kind: 'advance'; ms: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('snapshot' as const),
    members: fc.array(fc.boolean(), { minLength: IDS.length, maxLength: IDS.length }),
    weight: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ kind: fc.constant('call' as const) }),
  fc.record({ kind: fc.constant('finish' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
)

interface Resource {
  readonly id: string
  closes: number
}

describe('membership under any sequence of snapshots', () => {
  it('keeps an endpoint’s state while its id stays and closes a removed endpoint’s resources after its drain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer(), async (steps, seed) => {
        const clock = new ManualClock(0)
        const resources: Resource[] = []
        const source = staticDiscovery([IDS[0]!])
        const balancer = new Balancer({
          discovery: source,
          allowEmpty: true,
          clock,
          random: seededRandom(seed),
          picker: 'round-robin',
          drainTimeout: DRAIN_TIMEOUT,
          maxConnectionAge: MAX_AGE,
          createClient: (endpoint) => {
            const resource: Resource = { id: endpoint.id, closes: 0 }
            resources.push(resource)
            return resource
          },
          closeClient: (resource) => {
            resource.closes++
          },
        })
        const core = coreOf(balancer)
        const held: { release: () => void; done: Promise<unknown> }[] = []
        /** The state object of each member or draining id, as last seen. */
        let previous = new Map<string, EndpointState>()

        const check = () => {
          const members = core.set.members
          const draining = core.set.draining
          // A state survives while its id stays a member, and an id re-added while draining is revived.
          for (const [id, state] of members) {
            const before = previous.get(id)
            if (before !== undefined) expect(state).toBe(before)
          }
          previous = new Map([...draining, ...members])
          for (const resource of resources) expect(resource.closes).toBeLessThanOrEqual(1)
          for (const id of IDS) {
            const open = resources.filter((r) => r.id === id && r.closes === 0)
            // At most one live client per endpoint (an aged one is closed when replaced) ...
            expect(open.length).toBeLessThanOrEqual(1)
            // ... and none once the endpoint is neither a member nor draining.
            if (!members.has(id) && !draining.has(id)) expect(open).toEqual([])
          }
          for (const state of draining.values()) expect(state.inFlight).toBeGreaterThan(0)
        }

        for (const s of steps) {
          if (s.kind === 'snapshot') {
            const next = IDS.filter((_, i) => s.members[i]).map((url, i) => ({ url, weight: i === 0 ? s.weight : 1 }))
            source.update(next)
          } else if (s.kind === 'call') {
            let release!: () => void
            const gate = new Promise<void>((r) => (release = r))
            const done = balancer
              .call(async (endpoint: Endpoint<unknown>) => {
                void endpoint.client
                await gate
                return endpoint.client
              })
              .catch((error: unknown) => error)
            held.push({ release, done })
          } else if (s.kind === 'finish') {
            if (held.length > 0) held.splice(s.index % held.length, 1)[0]!.release()
          } else {
            await clock.advance(s.ms)
          }
          await clock.advance(0)
          check()
        }
        for (const h of held) h.release()
        await Promise.all(held.map((h) => h.done))
        await clock.advance(0)
        check()
        await balancer.close()
        expect(resources.map((r) => r.closes)).toEqual(resources.map(() => 1))
        expect(clock.pending).toBe(0)
      }),
      { numRuns: 150, seed: 20_260_101 },
    )
  })
})
