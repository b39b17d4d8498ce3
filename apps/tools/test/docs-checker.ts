import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { CORE_SETTINGS, EVENTS_SETTINGS, GATEWAY_SETTINGS, RESULTS_SETTINGS, settingNames } from '@vision/config';
import { ERROR_CODES } from '@vision/wire';

/**
 * The docs check's rules, apart from the files they read, so a test can hold them to small
 * markdown strings too (a check that cannot fail proves nothing).
 */

/** What the docs may name: the repository as it is. */
export interface RepoFacts {
  /** npm scripts of the root package.json. */
  scripts: ReadonlySet<string>;
  /** Whether a repository-relative path (file or folder) exists. */
  exists(path: string): boolean;
  /** Environment variables a doc may name: every setting, and the allow-listed ones that are not ours. */
  variables: ReadonlySet<string>;
  /** Names that look like variables but are code (exported constants such as `ERROR_CODES`). */
  identifiers: ReadonlySet<string>;
  /** Error codes: the wire table's, and those the services raise outside it (rules, the SDK). */
  errorCodes: ReadonlySet<string>;
  /**
   * The flags a command line takes: `script` an npm script or `apps/<app>/dist/<x>.js`; undefined
   * where the command is not one of our node entry points (vitest, prettier).
   */
  cliFlags(script: string): ReadonlySet<string> | undefined;
}

export type FindingKind = 'script' | 'path' | 'variable' | 'code' | 'link' | 'anchor' | 'flag';

export interface Finding {
  file: string;
  kind: FindingKind;
  name: string;
}

/** Every variable the four setting trees read (RESULTS_SETTINGS is also part of the core and events trees). */
export function allSettingNames(): string[] {
  return [
    ...new Set([CORE_SETTINGS, GATEWAY_SETTINGS, EVENTS_SETTINGS, RESULTS_SETTINGS].flatMap((t) => settingNames(t))),
  ];
}

/**
 * Variables a doc may name that no setting tree reads: read by Node, libuv, the CUDA stack or the
 * tools around the service, or by the project's own test harness. docker-compose's interpolation
 * variables are read from the compose files themselves (`interpolatedVariables`).
 */
export const NOT_OUR_SETTINGS: readonly string[] = [
  'UV_THREADPOOL_SIZE', // libuv's pool (sharp decodes on it); the server sizes it when unset
  'NODE_OPTIONS', // Node's own flags
  'NODE_ENV', // set by the images, read by Express
  'LD_LIBRARY_PATH', // where the CUDA and cuDNN libraries are found
  'CUDA_VISIBLE_DEVICES', // which GPUs a process sees
  'NVIDIA_VISIBLE_DEVICES', // the NVIDIA container toolkit
  'NVIDIA_DRIVER_CAPABILITIES', // the NVIDIA container toolkit
  'GF_SECURITY_ADMIN_PASSWORD', // Grafana's admin password (compose passes GRAFANA_ADMIN_PASSWORD to it)
  'NGINX_ENVSUBST_FILTER', // the nginx image's template filter
  'FUZZ_SEED', // replays a run of the fuzz test
  'TEST_REDIS_URL', // tests use this Redis instead of starting their own
  'GPU_PARTS', // deploy/gpu/run.sh: where the GPU bundle's parts are
  'SSL_CERT_FILE', // OpenSSL's trusted certificates (Python clients against a self-signed site)
  'NODE_EXTRA_CA_CERTS', // the same for Node clients
  'COMPOSE_PROFILES', // docker compose: the profiles `up` starts (the `sentinel` profile)
];

/**
 * Upper-case words without an underscore that docs name and that are not variables: Redis commands
 * and replies, signals, HTTP methods, JWT algorithms.
 */
export const NOT_VARIABLES: readonly string[] = [
  ...['XADD', 'XACK', 'XDEL', 'XREAD', 'XREADGROUP', 'XAUTOCLAIM', 'SSUBSCRIBE', 'NOGROUP', 'READONLY'],
  ...['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGKILL', 'SIGQUIT'],
  ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'],
  ...['RS256', 'ES256', 'HS256'],
];

/**
 * Paths the project creates when it runs, not in the repository: `deploy/nginx/dev-cert.sh` writes the
 * certificates.
 */
export const CREATED_PATHS: readonly string[] = ['deploy/nginx/certs'];

/**
 * `${NAME}` and `${NAME:-…}` in files other tools fill in: the docker-compose files (Compose reads
 * them from the shell or `.env`) and the nginx template (envsubst). Not settings of ours.
 */
export function interpolatedVariables(texts: readonly string[]): string[] {
  return [...new Set(texts.flatMap((t) => [...t.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1])))];
}

const PATH_ROOTS = ['.ci', 'libs', 'apps', 'deploy', 'docs', 'examples', 'fixtures'];
// A path: one of the roots, then path characters. Preceded by nothing path-like (not part of a URL or a longer path).
const PATH_RE = new RegExp(
  `(?<![\\w./@~-])(?:${PATH_ROOTS.map((r) => r.replace('.', '\\.')).join('|')})/[A-Za-z0-9_./-]*`,
  'g',
);
/** Characters right after a path that mark it as a pattern or a placeholder (`libs/*`, `apps/<x>`, `tls.{crt,key}`). */
const PLACEHOLDER_NEXT = /^[*<{…$]/;
const VARIABLE_RE = /\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b/g;
// A name without an underscore counts as a variable where it stands alone in backticks or is assigned (`PORT=8080`).
const LONE_VARIABLE_RE = /`([A-Z][A-Z0-9]+)(?:=[^`]*)?`|(?<![\w$-])([A-Z][A-Z0-9]+)=/g;
// A shell line of the doc's own that only assigns (`REG=… TAG=…`, `OPS=$(…)  # …`): its names are the doc's,
// not settings.
const SHELL_ASSIGNMENT_RE = /^\s*((?:[A-Z][A-Z0-9_]*=(?:\$\(.*\)|\S*)\s*)+)(?:#.*)?$/gm;
// The flags of a command line: after `npm run x --`, or after a node entry point of ours.
const CLI_RE = /\bnpm run ([A-Za-z0-9:_-]+) -- ([^`\n]*)|\bnode (apps\/[a-z-]+\/dist\/[\w-]+\.js)([^`\n]*)/g;
const CODE_RE = /\bE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;
const SCRIPT_RE = /\bnpm run ([A-Za-z0-9:_-]+)|\bnpm (start|test)\b/g;
const LINK_RE = /\]\(([^)\s]+)\)/g;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, …. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .trim()
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * What one markdown file names that does not exist. `file` is repository-relative (links resolve
 * from its folder); `read` gives another markdown file's text for anchor checks.
 */
export function checkMarkdown(
  file: string,
  text: string,
  facts: RepoFacts,
  read: (path: string) => string | undefined,
): Finding[] {
  const out: Finding[] = [];
  const add = (kind: FindingKind, name: string) => {
    if (!out.some((f) => f.kind === kind && f.name === name)) out.push({ file, kind, name });
  };
  for (const m of text.matchAll(SCRIPT_RE)) {
    const script = m[1] ?? m[2];
    if (!facts.scripts.has(script)) add('script', `npm run ${script}`);
  }
  for (const m of text.matchAll(PATH_RE)) {
    const after = text.slice(m.index + m[0].length);
    if (PLACEHOLDER_NEXT.test(after) || m[0].includes('...')) continue;
    const path = m[0].replace(/[.:]+$/, '').replace(/\/$/, '');
    if (!facts.exists(path) && !CREATED_PATHS.some((c) => path === c || path.startsWith(`${c}/`))) add('path', path);
  }
  const shellNames = new Set(
    [...text.matchAll(SHELL_ASSIGNMENT_RE)].flatMap((m) => [...m[1].matchAll(/([A-Z][A-Z0-9_]*)=/g)].map((n) => n[1])),
  );
  const lone = [...text.matchAll(LONE_VARIABLE_RE)].map((m) => m[1] ?? m[2]).filter((n) => !NOT_VARIABLES.includes(n));
  for (const name of [...[...text.matchAll(VARIABLE_RE)].map((m) => m[0]), ...lone]) {
    if (name.startsWith('E_') || facts.identifiers.has(name) || shellNames.has(name)) continue;
    if (!facts.variables.has(name)) add('variable', name);
  }
  for (const m of text.matchAll(CLI_RE)) {
    const flags = facts.cliFlags(m[1] ?? m[3]);
    if (!flags) continue;
    for (const f of (m[2] ?? m[4]).matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g))
      if (!flags.has(f[1])) add('flag', `${m[1] ? `npm run ${m[1]}` : m[3]} --${f[1]}`);
  }
  for (const m of text.matchAll(CODE_RE)) {
    // `E_OUTPUT_…`-style prefixes written with a trailing underscore are not codes.
    if (text[m.index + m[0].length] === '_') continue;
    if (!facts.errorCodes.has(m[0])) add('code', m[0]);
  }
  for (const m of text.matchAll(LINK_RE)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto
    const [pathPart, anchor] = target.split('#');
    const path = pathPart ? normalize(join(dirname(file), pathPart)) : file;
    if (pathPart && !facts.exists(path)) {
      add('link', target);
      continue;
    }
    if (anchor === undefined || !path.endsWith('.md')) continue;
    const linked = path === file ? text : read(path);
    if (linked === undefined || !headingAnchors(linked).has(anchor)) add('anchor', target);
  }
  return out;
}

/** Settings without a row of their own in docs/configuration.md's tables (named in the row's first cell). */
export function undocumentedSettings(configurationMd: string, names: readonly string[]): string[] {
  const rows = new Set(
    configurationMd
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
  );
  return names.filter((n) => !rows.has(n));
}

/**
 * The flags declared in an app's sources: string literals that start with `--name` (commander, argv
 * lookups), and the bench runner's option keys (`workerMetrics: opt.…` is `--worker-metrics`).
 */
function declaredFlags(sources: readonly string[]): Set<string> {
  const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return new Set(
    sources.flatMap((s) => [
      ...[...s.matchAll(/(?:['"`]|, )--([a-z][a-z0-9-]*)(?=[\s'"`<[,=])/g)].map((m) => m[1]),
      ...[...s.matchAll(/^\s+([a-z][A-Za-z0-9]*): opt\.\w+\(/gm)].map((m) => kebab(m[1])),
    ]),
  );
}

/** The facts of the repository at `root`. */
export function repoFacts(root: string): RepoFacts {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const sources = tsSources(root).map((f) => readFileSync(f, 'utf8'));
  // An entry point's flags: those its app declares (commander options, argv lookups).
  const flagsOf = (entry: string) => {
    const app = /^apps\/([a-z-]+)\/dist\/[\w-]+\.js$/.exec(entry)?.[1];
    if (!app || !existsSync(join(root, 'apps', app, 'src'))) return undefined;
    const flags = declaredFlags(tsFiles(join(root, 'apps', app, 'src')).map((f) => readFileSync(f, 'utf8')));
    return new Set([...flags, 'help']);
  };
  const compose = readdirSync(root)
    .filter((f) => /^docker-compose.*\.ya?ml$/.test(f))
    .map((f) => readFileSync(join(root, f), 'utf8'));
  const template = readFileSync(join(root, 'deploy', 'nginx', 'templates', 'vision.conf.template'), 'utf8');
  return {
    scripts: new Set(Object.keys(pkg.scripts)),
    exists: (p) => !relative(root, join(root, p)).startsWith('..') && existsSync(join(root, p)),
    variables: new Set([...allSettingNames(), ...NOT_OUR_SETTINGS, ...interpolatedVariables([...compose, template])]),
    identifiers: new Set(
      sources.flatMap((s) =>
        [...s.matchAll(/export (?:const|function|class|type|interface) ([A-Z][A-Z0-9_]*)\b/g)].map((m) => m[1]),
      ),
    ),
    cliFlags: (script) => {
      const entry = /^node (?:--\S+ )*(\S+\.js)$/.exec(pkg.scripts[script] ?? '')?.[1] ?? script;
      return flagsOf(entry);
    },
    errorCodes: new Set([
      ...Object.keys(ERROR_CODES),
      ...sources.flatMap((s) => [...s.matchAll(/['"`](E_[A-Z0-9_]+)['"`]/g)].map((m) => m[1])),
    ]),
  };
}

/** TypeScript files under `dir`, tests, builds and dependencies left out. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', 'dist', 'test'].includes(name)) return [];
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !/\.(d|test|spec)\.ts$/.test(name) ? [path] : [];
  });
}

/**
 * Production sources of every lib and app: not tests, the test harness (libs/testing) or the
 * benches (apps/bench), whose codes and names a user never meets.
 */
function tsSources(root: string): string[] {
  const product = (dir: string) => !['testing', 'bench'].includes(dir);
  return ['libs', 'apps'].flatMap((top) =>
    readdirSync(join(root, top))
      .filter(product)
      .flatMap((d) => tsFiles(join(root, top, d))),
  );
}

/** The markdown files the check covers: README.md, SECURITY.md, CHANGELOG.md and docs/*.md (repository-relative). */
export function userDocs(root: string): string[] {
  const top = ['README.md', 'SECURITY.md', 'CHANGELOG.md'].filter((f) => existsSync(join(root, f)));
  return [
    ...top,
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
}
