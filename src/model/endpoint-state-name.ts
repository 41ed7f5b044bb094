/** An endpoint's state names, in precedence order: `state` is the first that applies. */
export type EndpointStateName = 'draining' | 'unhealthy' | 'ejected' | 'open' | 'half-open' | 'active'
