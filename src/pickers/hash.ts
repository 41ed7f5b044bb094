/** Where `hashKey` writes a key's 64-bit hash, as two unsigned 32-bit halves. */
export interface HashOut {
  hashHi: number
  hashLo: number
}

/**
 * Hashes a call key. Placeholder (FNV-1a over UTF-16 units) until the hashing issue lands
 * xxHash64 over UTF-8.
 */
export function hashKey(key: string | Uint8Array, out: HashOut): void {
  let lo = 0x811c9dc5
  let hi = 0x01000193
  const n = key.length
  for (let i = 0; i < n; i++) {
    const c = typeof key === 'string' ? key.charCodeAt(i) : key[i]!
    lo = Math.imul(lo ^ c, 0x01000193)
    hi = Math.imul(hi ^ c, 0x811c9dc5)
  }
  out.hashHi = hi >>> 0
  out.hashLo = lo >>> 0
}
