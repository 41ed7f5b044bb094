import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 10_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // These files use real sockets and real time: one at a time keeps them honest on 2 cores.
          fileParallelism: false,
          // After every unit file, so timing-sensitive files run on a quiet machine.
          sequence: { groupOrder: 1 },
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
    ],
  },
})
