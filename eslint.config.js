import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  // fixtures/*.ts are MPEG-TS clips, not TypeScript.
  { ignores: ['**/dist/**', '**/node_modules/**', '.bench/**', 'test-artifacts/**', 'fixtures/**/*.ts', '!fixtures/**/*.test.ts', '**/test/vectors/**', 'demo-out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly', WebAssembly: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['**/*.cjs', 'scripts/stubs/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Architecture: common is pure, and no package imports a sibling other than common (the CLI excepted).
    files: ['packages/common/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'net', 'http', 'dgram', 'child_process', '@mqa/*', 'beamcoder', 'piscina'] }],
    },
  },
  {
    files: ['packages/encoder/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@mqa/packager', '@mqa/origin', '@mqa/cli', '@mqa/http'] }] },
  },
  {
    files: ['packages/packager/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@mqa/encoder', '@mqa/origin', '@mqa/cli', 'beamcoder'] }] },
  },
  {
    files: ['packages/http/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@mqa/encoder', '@mqa/packager', '@mqa/origin', '@mqa/cli', 'beamcoder'] }] },
  },
  {
    files: ['packages/origin/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@mqa/encoder', '@mqa/packager', '@mqa/cli', 'beamcoder'] }] },
  },
)
