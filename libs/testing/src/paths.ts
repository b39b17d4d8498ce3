import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The workspace root: the nearest folder above this file that holds `nx.json`. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nx.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no nx.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** Where `npm run models` writes generated ONNX files (git-ignored). */
export function modelsDir(): string {
  return join(repoRoot(), 'models');
}

/** Real photos copied from shared/images (see fixtures/images/SOURCES.md). */
export function imageFixturesDir(): string {
  return join(repoRoot(), 'fixtures', 'images');
}
