import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.spec.ts'],
    exclude: ['node_modules/**', '.cache/**'],
    // Integration tests start real QEMU processes; give them room on a loaded 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time even on 2 cores (vitest's default there is 1): the integration
    // tests mostly wait on QEMU and on child processes. Measured on a fresh clone of this 2-core
    // machine: 717 s one at a time, 337 s two at a time, all 2,356 passing.
    maxWorkers: 2,
    globalSetup: ['./oracle/qemu/test-global-setup.ts'],
  },
});
