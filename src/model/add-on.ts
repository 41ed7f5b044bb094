/**
 * An add-on a balancer starts itself from an option (`sharedHealth: redisSharedHealth({ … })`):
 * the balancer calls `attach(balancer)` once, at the end of its constructor. The add-on reaches
 * the balancer through `addOnPort(balancer)` and stops from a member observer's `close()`, which
 * the balancer's `close()` awaits. Keeping only this shape in keel's core means importing `keel`
 * never loads the add-on's dependency (a Redis client).
 */
export interface BalancerAddOn {
  /** Called once by the balancer, at the end of its constructor, with itself. */
  attach(balancer: object): unknown
}
