// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'packages/*/dist/**', '.cache/**', 'out/**', 'bench/results/**', 'models/.venv/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Processing uses event time; wall clock only in adapters (src/ops, src/cli, bench, test).' },
      ],
    },
  },
  {
    files: ['src/ops/**', 'src/cli/**', 'src/runners/kafka/**', 'lab/**', 'bench/**', 'test/**', 'scripts/**', 'examples/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
