/** A promise a test resolves by hand: `fire()` settles `fired`. */
export function deferred(): { fire: () => void; fired: Promise<void> } {
  let fire!: () => void
  const fired = new Promise<void>((resolve) => (fire = resolve))
  return { fire, fired }
}
