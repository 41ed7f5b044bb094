/** Detectors that can take an endpoint out of rotation; bits of `EndpointState.ejectedBy`. */
export const Detector = Object.freeze({
  breaker: 1,
  outlier: 2,
  health: 4,
  overload: 8,
  /** Shared health: a quorum of other balancer instances saw the endpoint fail (`keel/redis`). */
  shared: 16,
} satisfies Record<DetectorName, number>)
/** A detector's name, as `ejected` and `restored` events report it. */
export type DetectorName = 'breaker' | 'outlier' | 'health' | 'overload' | 'shared'
/**
 * Ejections that count against `maxEjectionPercent` (breakers, outlier detection and shared health
 * share it).
 */
export const CAPPED_DETECTORS = Detector.breaker | Detector.outlier | Detector.shared

export type BreakerPhase = 'closed' | 'open' | 'half-open'

/** The kinds of active health check (`healthCheck.type`). */
export type HealthCheckType = 'http' | 'tcp' | 'grpc' | 'custom'
