import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests run real pods on a 2-core machine; their own assertions bound the times that matter.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // End-to-end files share one small cluster: a few at a time keeps the 2-core machines responsive.
    maxWorkers: process.env.VITEST_MAX_WORKERS ? Number(process.env.VITEST_MAX_WORKERS) : 2,
  },
})
