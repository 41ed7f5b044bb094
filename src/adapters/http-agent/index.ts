// Entry point `keel/http`: node:http / node:https Agents that balance every request over a Balancer.

export { PathPrefixError } from './agent-request.ts'
export type { BalancerAgentOptions } from './agent-router.ts'
export { BalancerAgent, HttpsBalancerAgent } from './balancer-agent.ts'
