import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ORT sessions are native; forks isolate them cleanly. Two workers match CI's two cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
