import { DEFAULT_BUDGET, type ResolvedBudget, resolveBudget } from '../call/budget-options.ts'
import type { ResolvedCall } from '../call/call-options.ts'
import { type ResolvedHedge, resolveHedge } from '../call/hedge-options.ts'
import { CALL_RETRY_KEYS, DEFAULT_RETRY, type ResolvedRetry, resolveRetrySettings } from '../call/retry-options.ts'
import type { ClassifyOption } from '../classify/classifier.ts'
import type { Discovery } from '../discovery/discovery.ts'
import { resolveBreaker } from '../ejection/breaker-options.ts'
import { resolveHealthCheck } from '../ejection/health/health-options.ts'
import { resolveOutlier } from '../ejection/outlier-options.ts'
import { isAbortSignal } from '../internal/abort.ts'
import { type Clock, systemClock } from '../internal/clock.ts'
import { type Random, systemRandom } from '../internal/random.ts'
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  checkString,
  isPlainObject,
  MAX_TIMER,
  PERCENT,
  rejectUnknownKeys,
  section,
  TIMER,
  typeError,
} from '../internal/validate.ts'
import type { BalancerAddOn } from '../model/add-on.ts'
import type { EndpointInput } from '../model/endpoint.ts'
import type { PickerFactory } from '../model/picker.ts'
import { PICKER_NAMES, type PickerName, pickerByName } from '../pickers/registry.ts'
import { resolveZones } from '../priorities/zone-options.ts'
import { resolveSlowStart } from '../warmup/slow-start-options.ts'
import type { CallOptions } from './options.ts'
import type { ResolvedOptions } from './resolved-options.ts'

// Validates options once, merges the defaults (resolved-options.ts) and freezes the result.

const BALANCER_KEYS = [
  'endpoints',
  'discovery',
  'allowEmpty',
  'picker',
  'fallbackPicker',
  'servername',
  'maxInFlightPerEndpoint',
  'drainTimeout',
  'timeout',
  'attemptTimeout',
  'retry',
  'hedge',
  'breaker',
  'outlierDetection',
  'healthCheck',
  'slowStart',
  'maxEjectionPercent',
  'panicThreshold',
  'localZone',
  'zoneAware',
  'classify',
  'createClient',
  'closeClient',
  'maxConnectionAge',
  'sharedHealth',
  'clock',
  'random',
] as const
const CALL_KEYS = ['key', 'idempotent', 'signal', 'timeout', 'attemptTimeout', 'retry', 'hedge'] as const
function resolvePicker(option: string, value: unknown, fallback: PickerName): PickerFactory {
  if (value === undefined) return pickerByName(fallback)
  if (typeof value === 'string') return pickerByName(checkOneOf(option, value, PICKER_NAMES)!)
  if (typeof value === 'object' && value !== null) {
    const factory = value as PickerFactory
    if (typeof factory.build !== 'function') throw typeError(`${option}.build`, 'a function', factory.build)
    checkString(`${option}.name`, factory.name)
    checkOneOf(`${option}.scope`, factory.scope, ['eligible', 'members'])
    checkNumber(`${option}.rebuildIntervalMs`, factory.rebuildIntervalMs, { min: 0, max: MAX_TIMER })
    checkBoolean(`${option}.keyed`, factory.keyed)
    checkBoolean(`${option}.slowStart`, factory.slowStart)
    return factory
  }
  throw typeError(option, `a picker name (${PICKER_NAMES.map((n) => `'${n}'`).join(', ')}) or a picker factory`, value)
}

function resolveClassify(value: unknown): ClassifyOption | undefined {
  if (value === undefined || typeof value === 'function') return value as ClassifyOption | undefined
  const c = section('classify', value, ['classify', 'discard'])!
  checkFunction('classify.classify', c.classify)
  if (c.classify === undefined) throw typeError('classify.classify', 'a function', c.classify)
  checkFunction('classify.discard', c.discard)
  return value as ClassifyOption
}

function resolveClock(value: unknown): Clock {
  if (value === undefined) return systemClock
  const c = checkObject('clock', value)!
  for (const method of ['now', 'wallNow', 'setTimeout', 'clearTimeout']) {
    if (typeof c[method] !== 'function') throw typeError(`clock.${method}`, 'a function', c[method])
  }
  return value as Clock
}

function resolveDiscovery(value: unknown): Discovery | undefined {
  if (value === undefined) return undefined
  const d = checkObject('discovery', value)!
  if (typeof d.watch !== 'function') throw typeError('discovery.watch', 'a function', d.watch)
  if (d.refresh !== undefined && typeof d.refresh !== 'function')
    throw typeError('discovery.refresh', 'a function', d.refresh)
  return value as Discovery
}

/** Validates `options` once, merges the defaults and freezes the result. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {}
  if (!isPlainObject(options)) throw typeError('options', 'an object', options)
  const o = options
  rejectUnknownKeys('', o, BALANCER_KEYS)
  if (o.endpoints !== undefined && !Array.isArray(o.endpoints))
    throw typeError('endpoints', 'an array of endpoints', o.endpoints)
  const discovery = resolveDiscovery(o.discovery)
  if (discovery !== undefined && o.endpoints !== undefined) {
    throw typeError('discovery', 'absent when `endpoints` is given (pass one or the other)', '[Discovery]')
  }
  const servername = checkString('servername', o.servername)
  const retryOption = o.retry
  let retry: ResolvedRetry | false = DEFAULT_RETRY
  let budget: ResolvedBudget | false = DEFAULT_BUDGET
  if (retryOption === false) {
    // The budget stays: a call whose own `retry` asks for retries is still bounded by it (docs/retries.md,
    // "The retry budget": the budget is the balancer's and cannot be overridden).
    retry = false
  } else if (retryOption !== undefined) {
    const r = section('retry', retryOption, [...CALL_RETRY_KEYS, 'budget'])!
    retry = resolveRetrySettings('retry', r, DEFAULT_RETRY)
    budget = resolveBudget(r.budget)
  }
  const createClient = checkFunction<NonNullable<ResolvedOptions['createClient']>>('createClient', o.createClient)
  const closeClient = checkFunction<NonNullable<ResolvedOptions['closeClient']>>('closeClient', o.closeClient)
  if (closeClient !== undefined && createClient === undefined) {
    throw typeError('createClient', 'a function when `closeClient` is given', o.createClient)
  }
  const random = checkFunction<Random>('random', o.random) ?? systemRandom
  const picker = resolvePicker('picker', o.picker, 'p2c-ewma')
  // The fallback serves calls without a key, so only keyed (hash) pickers need one.
  const fallbackPicker =
    picker.keyed === true || o.fallbackPicker !== undefined
      ? resolvePicker('fallbackPicker', o.fallbackPicker, 'p2c-ewma')
      : picker
  if (fallbackPicker.keyed === true)
    throw typeError('fallbackPicker', 'a picker that needs no key', fallbackPicker.name)
  return Object.freeze({
    endpoints: o.endpoints === undefined ? undefined : Object.freeze([...(o.endpoints as EndpointInput[])]),
    discovery,
    allowEmpty: checkBoolean('allowEmpty', o.allowEmpty) ?? false,
    picker,
    fallbackPicker,
    servername,
    maxInFlightPerEndpoint:
      checkNumber('maxInFlightPerEndpoint', o.maxInFlightPerEndpoint, { integer: true, min: 1, allowInfinity: true }) ??
      Number.POSITIVE_INFINITY,
    drainTimeout: checkNumber('drainTimeout', o.drainTimeout, { min: 0, max: MAX_TIMER }) ?? 30_000,
    timeout: checkNumber('timeout', o.timeout, TIMER),
    attemptTimeout: checkNumber('attemptTimeout', o.attemptTimeout, TIMER),
    retry,
    budget,
    hedge: resolveHedge('hedge', o.hedge),
    breaker: resolveBreaker(o.breaker),
    outlierDetection: resolveOutlier(o.outlierDetection),
    healthCheck: resolveHealthCheck(o.healthCheck),
    slowStart: resolveSlowStart(o.slowStart),
    maxEjectionPercent: checkNumber('maxEjectionPercent', o.maxEjectionPercent, PERCENT) ?? 10,
    panicThreshold: checkNumber('panicThreshold', o.panicThreshold, PERCENT) ?? 50,
    zones: resolveZones(o.localZone, o.zoneAware),
    classify: resolveClassify(o.classify),
    createClient,
    closeClient,
    maxConnectionAge: checkNumber('maxConnectionAge', o.maxConnectionAge, TIMER),
    sharedHealth: resolveAddOn('sharedHealth', o.sharedHealth),
    clock: resolveClock(o.clock),
    random,
  })
}

function resolveAddOn(option: string, value: unknown): BalancerAddOn | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || typeof (value as BalancerAddOn).attach !== 'function') {
    throw typeError(option, 'an add-on such as redisSharedHealth({ … }) from keel/redis', value)
  }
  return value as BalancerAddOn
}

// Nested retry/hedge objects are usually constants: validated once per object identity.
const retryCache = new WeakMap<object, ResolvedRetry>()
const hedgeCache = new WeakMap<object, ResolvedHedge>()

function callRetry(value: unknown, balancer: ResolvedOptions): ResolvedRetry | false {
  if (value === undefined) return balancer.retry
  if (value === false) return false
  if (typeof value !== 'object' || value === null) throw typeError('retry', 'an object or false', value)
  let resolved = retryCache.get(value)
  if (resolved === undefined) {
    const r = section('retry', value, CALL_RETRY_KEYS)!
    resolved = resolveRetrySettings('retry', r, balancer.retry === false ? DEFAULT_RETRY : balancer.retry)
    retryCache.set(value, resolved)
  }
  return resolved
}

function callHedge(value: unknown, balancer: ResolvedOptions): ResolvedHedge | false {
  if (value === undefined) return balancer.hedge
  if (value === false) return false
  if (typeof value !== 'object' || value === null) throw typeError('hedge', 'an object or false', value)
  let resolved = hedgeCache.get(value)
  if (resolved === undefined) {
    resolved = resolveHedge('hedge', value) as ResolvedHedge
    hedgeCache.set(value, resolved)
  }
  return resolved
}

/** The options of a call without any: the balancer's defaults, resolved once. */
export function defaultCall(balancer: ResolvedOptions): ResolvedCall {
  return Object.freeze({
    key: undefined,
    idempotent: false,
    signal: undefined,
    timeout: balancer.timeout,
    attemptTimeout: balancer.attemptTimeout,
    retry: balancer.retry,
    hedge: balancer.hedge,
    // Without `idempotent` a call is never hedged, so the balancer's hedge setting does not matter here.
    simple: balancer.timeout === undefined && balancer.attemptTimeout === undefined,
  })
}

/**
 * Validates one call's options and merges the balancer's. Scalars are checked with a few `typeof`
 * tests per call; the nested `retry` and `hedge` objects are validated once per object identity.
 */
export function resolveCall(options: CallOptions, balancer: ResolvedOptions): ResolvedCall {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options)
  const { key, idempotent, signal, timeout, attemptTimeout } = options
  if (key !== undefined && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw typeError('key', 'a string or a Uint8Array', key)
  }
  if (idempotent !== undefined && typeof idempotent !== 'boolean')
    throw typeError('idempotent', 'a boolean', idempotent)
  if (signal !== undefined && !isAbortSignal(signal)) throw typeError('signal', 'an AbortSignal', signal)
  const t = timeout === undefined ? balancer.timeout : (checkNumber('timeout', timeout, TIMER) as number)
  const at =
    attemptTimeout === undefined
      ? balancer.attemptTimeout
      : (checkNumber('attemptTimeout', attemptTimeout, TIMER) as number)
  const retry = callRetry(options.retry, balancer)
  const hedge = callHedge(options.hedge, balancer)
  for (const k in options) {
    if (!(CALL_KEYS as readonly string[]).includes(k)) rejectUnknownKeys('', options, CALL_KEYS)
  }
  return {
    key,
    idempotent: idempotent ?? false,
    signal,
    timeout: t,
    attemptTimeout: at,
    retry,
    hedge,
    simple: signal === undefined && t === undefined && at === undefined && (hedge === false || idempotent !== true),
  }
}
