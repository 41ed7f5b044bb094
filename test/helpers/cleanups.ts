import { afterEach } from 'vitest'

/** Cleanups to run after each test of the file, the last registered first. */
export function cleanupsAfterEach(): (() => Promise<void> | void)[] {
  const list: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const cleanup of list.splice(0).reverse()) await cleanup()
  })
  return list
}
