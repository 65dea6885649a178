import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against the sources; the CLI's end-to-end tests run the built dist.
    alias: {
      '@mqa/common': src('common'),
      '@mqa/encoder': src('encoder'),
      '@mqa/packager': src('packager'),
      '@mqa/origin': src('origin'),
      '@mqa/http': src('http'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'fixtures/**/*.test.ts', 'scripts/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A temporary folder per run (TMPDIR for the tests and what they start), removed at its end.
    globalSetup: ['scripts/lib/test-tmp.js'],
    reporters: ['default'],
  },
})
