// ESLint (flat config) for src/, test/ and bench/: typescript-eslint's recommended rules, run by
// `npm run lint` (and so by `npm test`) with --max-warnings 0. Formatting is prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'native/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The addon and optional modules are loaded lazily on purpose (start-up time).
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  // Tests poke at decoded objects and private fields.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
