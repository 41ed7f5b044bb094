/**
 * Writes the UTF-8 encoding of `s` into `out` (which holds at least 3 bytes per UTF-16 unit) and
 * returns its length. Lone surrogates become U+FFFD, as `TextEncoder` does.
 */
export function encodeUtf8(s: string, out: Uint8Array): number {
  const n = s.length
  let p = 0
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      out[p++] = c
      continue
    }
    if (c < 0x800) {
      out[p++] = 0xc0 | (c >>> 6)
      out[p++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        out[p++] = 0xf0 | (c >>> 18)
        out[p++] = 0x80 | ((c >>> 12) & 0x3f)
        out[p++] = 0x80 | ((c >>> 6) & 0x3f)
        out[p++] = 0x80 | (c & 0x3f)
        continue
      }
      c = 0xfffd
    }
    out[p++] = 0xe0 | (c >>> 12)
    out[p++] = 0x80 | ((c >>> 6) & 0x3f)
    out[p++] = 0x80 | (c & 0x3f)
  }
  return p
}
