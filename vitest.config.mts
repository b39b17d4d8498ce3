import { readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Tests import libraries by package name; point those names at the sources so tests never run
// against stale builds. (Spawned processes in end-to-end tests run the built apps.)
const root = dirname(fileURLToPath(import.meta.url));
const alias = Object.fromEntries(
  readdirSync(resolve(root, 'libs')).map((lib) => [`@vision/${lib}`, resolve(root, 'libs', lib, 'src/index.ts')]),
);

export default defineConfig({
  // Nest's injection reads decorator metadata; esbuild does not emit it, SWC does.
  plugins: [
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
    }),
  ],
  resolve: { alias },
  test: {
    include: ['libs/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One file at a time: several suites measure latency or fairness on a 2-core machine and would
    // otherwise measure each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
