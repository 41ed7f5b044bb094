import type { InternalAxiosRequestConfig } from 'axios'
import { checkBoolean, checkObject, rejectUnknownKeys } from '../../internal/validate.ts'

/** keel's per-request options for axios, under the request config's `keel` key. */
export interface KeelRequestOptions {
  /** Routes the request by this key with a hash picker (`ring-hash`, `maglev`). @default undefined */
  readonly key?: string | Uint8Array
  /**
   * The request may be sent more than once. @default true for GET, HEAD, OPTIONS, PUT, DELETE and
   * TRACE, or when an `Idempotency-Key` header is set; false otherwise
   */
  readonly idempotent?: boolean
}

const KEEL_KEYS = ['key', 'idempotent'] as const
const NONE: KeelRequestOptions = Object.freeze({})

/** The request's `keel` options, checked (keel checks `key` with the call's options). */
export function keelOptions(config: InternalAxiosRequestConfig): KeelRequestOptions {
  const keel = checkObject('keel', (config as { keel?: unknown }).keel)
  if (keel === undefined) return NONE
  rejectUnknownKeys('keel', keel, KEEL_KEYS)
  checkBoolean('keel.idempotent', keel.idempotent)
  return keel as KeelRequestOptions
}
