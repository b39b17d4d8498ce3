import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@vision/testing';
import { ERROR_CODES } from '@vision/wire';
import {
  allSettingNames,
  checkMarkdown,
  headingAnchors,
  repoFacts,
  undocumentedSettings,
  userDocs,
  type Finding,
} from './docs-checker';

const root = repoRoot();
const facts = repoFacts(root);
const read = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined);
const check = (file: string, text: string) => checkMarkdown(file, text, facts, read);
const names = (findings: Finding[]) => findings.map((f) => `${f.kind} ${f.name}`).sort();

/**
 * The docs cannot drift from the code: every npm script, repository path, link (and its anchor),
 * environment variable and error code that README.md, SECURITY.md, CHANGELOG.md and docs/*.md name
 * exists, and docs/configuration.md names every variable of every setting tree.
 */
describe('docs check', () => {
  it('README.md and every doc name only scripts, paths, links, variables and codes that exist', () => {
    const docs = userDocs(root);
    expect(docs).toEqual(
      expect.arrayContaining(['README.md', 'docs/configuration.md', 'docs/protocol.md', 'docs/troubleshooting.md']),
    );
    const findings = docs.flatMap((file) => check(file, read(file)!));
    expect(findings.map((f) => `${f.file}: ${f.kind} ${f.name}`)).toEqual([]);
  });

  it('docs/configuration.md documents every variable of the four setting trees, and UV_THREADPOOL_SIZE', () => {
    const all = allSettingNames();
    // The trees are not empty: a check over nothing would pass.
    expect(all).toEqual(
      expect.arrayContaining([
        'PORT',
        'METRICS_PORT',
        'SERVING_GRAPH',
        'GATEWAY_EDGE_URLS',
        'EVENTS_SITE',
        'RESULTS_SHARDS',
        'TRACK_LOW_THRESHOLD',
      ]),
    );
    expect(undocumentedSettings(read('docs/configuration.md')!, [...all, 'UV_THREADPOOL_SIZE'])).toEqual([]);
  });

  it('docs/troubleshooting.md has a row for every error code of the wire table', () => {
    const doc = read('docs/troubleshooting.md')!;
    const missing = Object.keys(ERROR_CODES).filter((code) => !new RegExp(`^\\| \`${code}\` \\|`, 'm').test(doc));
    expect(Object.keys(ERROR_CODES).length).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('finds each kind of thing that does not exist (in-memory markdown)', () => {
    const md = [
      '# Title',
      'Run `npm run no-such-script`, then `npm start` and `npm run token`.',
      'See `libs/no-such-lib/src/index.ts` and `libs/edge/src/frame-ledger.ts`; ' +
        'patterns such as `libs/*/test` and `apps/<role>/dist` are skipped.',
      'Set `NO_SUCH_SETTING=1` beside `MAX_BATCH` and `UV_THREADPOOL_SIZE`; `ERROR_CODES` is code, not a variable.',
      'Errors `E_NO_SUCH_CODE` and `E_OVERLOADED`, and `E_BAD_RULE` from the events service.',
      '[a doc](no-such.md), [the protocol](protocol.md#no-such-section), ' +
        '[its models](protocol.md#http-get-v1models), [here](#title), [nowhere](#nope).',
    ].join('\n');
    expect(names(check('docs/example.md', md))).toEqual(
      [
        'anchor #nope',
        'anchor protocol.md#no-such-section',
        'code E_NO_SUCH_CODE',
        'link no-such.md',
        'path libs/no-such-lib/src/index.ts',
        'script npm run no-such-script',
        'variable NO_SUCH_SETTING',
      ].sort(),
    );
  });

  it('finds variables without an underscore, codes only tests or benches raise, and CLI flags no command takes', () => {
    const md = [
      'Set `PORTT` (a typo of `PORT`) or `ENGINES=2`, then `HOSTNAME=box npm start`; ' +
        '`XAUTOCLAIM` and `SIGHUP` are not variables.',
      '```bash',
      'OPS=$(npm run token -- --sub ops --scope cameras:read)',
      'curl -H "Authorization: Bearer $OPS" http://127.0.0.1:8090/v1/cameras',
      '```',
      'The bench counts `E_CLIENT_TIMEOUT` and `E_CONNECTION` (apps/bench only), beside `E_OVERLOADED`.',
      '`npm run token -- --subject gate-3 --ttl 30d`, `npm run detect -- --model m.onnx --confidence 0.5 photo.jpg`,',
      '`node apps/tools/dist/token.js --revoke x --until 2027-01-01`, ' +
        '`npm run soak -- --hours 2`, `npm test -- --bail 1`.',
      // Bench options are declared as `sampleS: opt.positive(…)` in the bench runner's style.
      '`npm run soak -- --sample-s 5`, `npm run bench:run -- --worker-metrics u --cameras 2`.',
    ].join('\n');
    const findings = names(check('docs/example.md', md));
    expect(findings).toEqual(
      [
        'code E_CLIENT_TIMEOUT',
        'code E_CONNECTION',
        'flag npm run detect --confidence',
        'flag npm run soak --hours',
        'flag npm run token --subject',
        'variable HOSTNAME',
        'variable PORTT',
      ].sort(),
    );
    // A variable named in configuration.md's prose but without a row of its own in a table is undocumented.
    const prose = '| variable | default |\n|---|---|\n| `PORT` | `8080` |\n\nSee also `ENGINES` and `HOST`.';
    expect(undocumentedSettings(prose, ['PORT', 'ENGINES', 'HOST'])).toEqual(['ENGINES', 'HOST']);
  });

  it('fails on a real doc broken on purpose (a scratch copy in memory)', () => {
    const readme = read('README.md')!;
    const before = names(check('README.md', readme));
    const broken = readme.replace('npm run token', 'npm run tokens').replaceAll('docs/models.md', 'docs/model.md');
    expect(names(check('README.md', broken)).filter((f) => !before.includes(f))).toEqual([
      'link docs/model.md',
      'path docs/model.md',
      'script npm run tokens',
    ]);
    const configuration = read('docs/configuration.md')!;
    const withoutRow = configuration
      .split('\n')
      .filter((line) => !line.includes('`EVENTS_MQTT_INFLIGHT`'))
      .join('\n');
    expect(undocumentedSettings(withoutRow, allSettingNames())).toEqual(['EVENTS_MQTT_INFLIGHT']);
  });

  it('computes GitHub heading anchors (punctuation dropped, repeats numbered, fenced code ignored)', () => {
    const anchors = headingAnchors(
      '# HTTP: `GET /v1/models`\n## Tokens\n## Tokens\n```\n# not a heading\n```\n### On a GPU (H200)',
    );
    expect([...anchors]).toEqual(['http-get-v1models', 'tokens', 'tokens-1', 'on-a-gpu-h200']);
  });
});
