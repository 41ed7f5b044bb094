import { BalancerAgent } from '../../src/adapters/http-agent/index.ts'
import type { BalancerOptions, EndpointInput } from '../../src/index.ts'
import { cleanupsAfterEach } from './cleanups.ts'
import { adapterHarness, type Observed } from './harness.ts'

/**
 * `adapterHarness` for `BalancerAgent` tests: servers whose keep-alive outlasts the agents' 5 s
 * idle timeout (as production servers keep it), cleanups run after each test, and `balanced`, a
 * recorded balancer with an agent over it that is destroyed after the test. Call once, at the top
 * of the file (it registers `afterEach` hooks).
 */
export function agentHarness() {
  const harness = adapterHarness(10_000)
  const cleanups = cleanupsAfterEach()
  function balanced(
    endpoints: readonly EndpointInput[],
    options: BalancerOptions<never> = {},
    agentOptions: ConstructorParameters<typeof BalancerAgent>[1] = {},
  ): Observed & { agent: BalancerAgent } {
    const observed = harness.observe(endpoints, options)
    const agent = new BalancerAgent(observed.balancer, agentOptions)
    cleanups.push(() => agent.destroy())
    return { ...observed, agent }
  }
  return { ...harness, cleanups, balanced }
}
