import diagnostics_channel from 'node:diagnostics_channel'

/**
 * keel's `node:diagnostics_channel` channels (docs/observability.md#diagnostics-channels). Named
 * channels are process-wide: every copy of keel (ESM and CJS builds) publishes on the same ones.
 * Publishers check `hasSubscribers` before building a message, so an unobserved call builds none.
 */
export const channels = Object.freeze({
  callStart: diagnostics_channel.channel('keel:call:start'),
  callEnd: diagnostics_channel.channel('keel:call:end'),
  attemptStart: diagnostics_channel.channel('keel:attempt:start'),
  attemptEnd: diagnostics_channel.channel('keel:attempt:end'),
  endpointState: diagnostics_channel.channel('keel:endpoint:state'),
})
