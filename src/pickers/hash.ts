import { encodeUtf8 } from '../internal/utf8.ts'
import { type HashOut, xxHash64 } from './xxhash64.ts'

export type { HashOut }

/**
 * Largest scratch buffer kept between calls (bytes). A longer string key is encoded into a
 * one-off buffer instead, so one huge key does not pin memory for the life of the process.
 */
const MAX_SCRATCH = 64 * 1024
let scratch = new Uint8Array(256)

/**
 * Keys up to this many UTF-16 units are encoded by `encodeUtf8`; longer ones by
 * `TextEncoder.encodeInto`, whose native loop wins past about this length (bench/hashing.ts)
 * at the price of the small `{ read, written }` object it returns.
 */
const NATIVE_ENCODE_FROM = 17
const encoder = new TextEncoder()

/**
 * Hashes a call key with xxHash64, seed 0: a `Uint8Array` as its bytes, a string as its UTF-8
 * bytes, encoded into a reused scratch buffer.
 */
export function hashKey(key: string | Uint8Array, out: HashOut): void {
  if (typeof key === 'string') {
    const n = key.length
    let buffer = scratch
    if (n * 3 > buffer.length) {
      if (n * 3 <= MAX_SCRATCH) {
        let size = buffer.length * 2
        while (size < n * 3) size *= 2
        buffer = scratch = new Uint8Array(size)
      } else {
        buffer = new Uint8Array(n * 3)
      }
    }
    const length = n < NATIVE_ENCODE_FROM ? encodeUtf8(key, buffer) : encoder.encodeInto(key, buffer).written
    xxHash64(buffer, out, 0, 0, length)
  } else {
    xxHash64(key, out, 0, 0, key.length)
  }
}
