let lastCallId = 0

/**
 * A number for a new call, unique among the calls of this copy of keel in the process: on
 * `attempt`, `retry` and `hedge` events, diagnostics-channel messages and spans, so they can be
 * joined per call.
 */
export function nextCallId(): number {
  return ++lastCallId
}
