import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Which scopes may import which. The edge never imports worker code (and vice versa); only the
// embedded server and tooling combine them.
const depConstraints = [
  // Browser-safe code: the wire format depends on nothing; the client SDK only on it.
  { sourceTag: 'scope:wire', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:client', onlyDependOnLibsWithTags: ['scope:wire'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared', 'scope:wire'] },
  { sourceTag: 'scope:edge', onlyDependOnLibsWithTags: ['scope:edge', 'scope:shared', 'scope:wire'] },
  { sourceTag: 'scope:worker', onlyDependOnLibsWithTags: ['scope:worker', 'scope:shared', 'scope:wire'] },
  // The camera gateway feeds edges through the client SDK; the events service reads results from Redis.
  {
    sourceTag: 'scope:gateway',
    onlyDependOnLibsWithTags: ['scope:gateway', 'scope:client', 'scope:shared', 'scope:wire'],
  },
  { sourceTag: 'scope:events', onlyDependOnLibsWithTags: ['scope:events', 'scope:shared', 'scope:wire'] },
  {
    sourceTag: 'scope:standalone',
    onlyDependOnLibsWithTags: ['scope:edge', 'scope:worker', 'scope:shared', 'scope:wire'],
  },
  {
    sourceTag: 'scope:testing',
    onlyDependOnLibsWithTags: ['scope:testing', 'scope:worker', 'scope:shared', 'scope:wire', 'scope:client'],
  },
  // Operator and developer commands (tokens, the local cluster, model generation, the abuse process).
  {
    sourceTag: 'scope:tools',
    onlyDependOnLibsWithTags: ['scope:tools', 'scope:testing', 'scope:shared', 'scope:wire', 'scope:client'],
  },
  {
    sourceTag: 'scope:bench',
    onlyDependOnLibsWithTags: [
      'scope:bench',
      'scope:testing',
      'scope:worker',
      'scope:shared',
      'scope:wire',
      'scope:client',
    ],
  },
  // The site console is a browser bundle that reaches the site only through its public HTTP APIs.
  { sourceTag: 'scope:console', onlyDependOnLibsWithTags: [] },
  // Stores and queues over Redis (libs/redis, transport, results-stream, bulk) sit under the features that use them.
  { sourceTag: 'type:data-access', notDependOnLibsWithTags: ['type:app', 'type:feature'] },
  { sourceTag: 'type:util', notDependOnLibsWithTags: ['type:app', 'type:feature'] },
  { sourceTag: 'type:feature', notDependOnLibsWithTags: ['type:app'] },
];

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', 'models/**', 'results/**', '.nx/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    // Prettier wraps code at 120 columns but leaves comments and strings long; this holds them too.
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: false }] },
  },
  {
    files: ['**/*.ts', '**/*.mts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, depConstraints }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests may use the testing library whatever their project's scope; production code may not.
    files: ['**/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: depConstraints.map((c) =>
            c.onlyDependOnLibsWithTags
              ? {
                  ...c,
                  onlyDependOnLibsWithTags: [
                    ...c.onlyDependOnLibsWithTags,
                    'scope:testing',
                    'scope:client',
                    'scope:wire',
                  ],
                }
              : c,
          ),
        },
      ],
    },
  },
];
