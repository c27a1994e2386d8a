// The linter (`npm run lint`, in CI through `npm test`'s checks): the few rules that catch what the
// type checker does not, on the project's TypeScript. Formatting is prettier's (`npm run format`).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'test-artifacts/**', 'dist/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // A promise nobody awaits loses its failure (and, in a workflow, its ordering).
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test collects its tests itself.
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      // Only errors are thrown: a thrown object has no stack and no message the SDK can convert.
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's sandbox: deterministic, no I/O, no Node module, no validation library.
    files: ['workflows/**/*.ts'],
    // The first release, frozen for its histories, keeps the validation library it shipped with.
    ignores: ['workflows/legacy/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os'],
              message: 'workflow code runs in the sandbox: no Node modules',
            },
            {
              group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', 'zod', 'pg', '@hubspot/*'],
              message: 'workflow code may not import this (docs: workflows/README.md)',
            },
          ],
        },
      ],
    },
  },
);
