import { setTimeout as sleep } from 'node:timers/promises';
import { DETECT_PATH } from '@vision/wire';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths';
import { freePort, startTestRedis, type TestRedis } from './redis-server';
import { startService, type ServiceProcess } from './service-process';
import { TEST_JWT_SECRET } from './tokens';

/** `deploy/site.env` as a map: the settings compose and the local cluster share. */
function readSiteEnv(file = join(repoRoot(), 'deploy', 'site.env')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** envsubst as the nginx image runs it: only the named variables are replaced; a missing one is an error. */
function renderTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(VISION_[A-Z_]+)\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template variable ${name} has no value`);
    return v;
  });
}

/** An upstream block's servers; none: one marked down, so nginx starts and the route answers 502. */
function upstreamServers(hosts: string[] | undefined): string {
  return hosts?.length ? hosts.map((h) => `server ${h};`).join(' ') : 'server 127.0.0.1:9 down;';
}

export interface NginxSite {
  /** The rendered main config, for `nginx -t`. */
  conf: string;
  dir: string;
  httpPort: number;
  httpsPort: number;
  /** The self-signed certificate clients must trust. */
  ca: Buffer;
}

/**
 * Renders deploy/nginx/templates/vision.conf.template (the file compose mounts) for local ports
 * and wraps it in a main config a non-root nginx can run: pid, logs and temp paths in `dir`.
 */
export async function prepareNginx(
  edges: string[],
  dir = mkdtempSync(join(tmpdir(), 'vision-nginx-')),
  /** A folder that already holds tls.crt and tls.key (compose mounts deploy/nginx/certs); unset: a fresh dev pair. */
  givenCerts?: string,
  /** The gateways' and events services' host:port, and the console's files; absent: those routes answer 502/404. */
  operators: { gateways?: string[]; events?: string[]; consoleDir?: string } = {},
): Promise<NginxSite> {
  const root = repoRoot();
  const certs = givenCerts ?? join(dir, 'certs');
  if (!givenCerts) {
    const made = spawnSync(
      'sh',
      [join(root, 'deploy', 'nginx', 'dev-cert.sh'), '--out', certs, '--name', 'localhost'],
      {
        encoding: 'utf8',
      },
    );
    if (made.status !== 0) throw new Error(`dev-cert.sh failed: ${made.stderr}`);
  }
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const site = renderTemplate(
    readFileSync(join(root, 'deploy', 'nginx', 'templates', 'vision.conf.template'), 'utf8'),
    {
      VISION_EDGES: edges.map((e) => `server ${e} max_fails=1 fail_timeout=5s;`).join(' '),
      VISION_HTTP_PORT: `127.0.0.1:${httpPort}`,
      VISION_HTTPS_PORT: `127.0.0.1:${httpsPort}`,
      VISION_TLS_CERT: join(certs, 'tls.crt'),
      VISION_TLS_KEY: join(certs, 'tls.key'),
      VISION_GATEWAYS: upstreamServers(operators.gateways),
      VISION_EVENTS: upstreamServers(operators.events),
      VISION_CONSOLE_DIR: operators.consoleDir ?? join(root, 'apps', 'console', 'dist'),
    },
  );
  writeFileSync(join(dir, 'site.conf'), site);
  const conf = writeNginxMain(dir, join(dir, 'site.conf'));
  return { conf, dir, httpPort, httpsPort, ca: readFileSync(join(certs, 'tls.crt')) };
}

/**
 * The main configuration of a test's nginx in `dir` (its pid, error log and temp folders there),
 * including `siteConf`; returns its path.
 */
export function writeNginxMain(dir: string, siteConf: string): string {
  // nginx's temp folders (client_body_temp_path and the proxies'); run as root (CI), its workers drop
  // to nobody and must be able to write them.
  chmodSync(dir, 0o755);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => ({
    directive: `${t}_temp_path`,
    path: join(dir, `${t}_temp`),
  }));
  for (const t of temps) {
    mkdirSync(t.path, { recursive: true });
    chmodSync(t.path, 0o777);
  }
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...temps.map((t) => `  ${t.directive} ${t.path};`),
      `  include ${siteConf};`,
      '}',
      '',
    ].join('\n'),
  );
  return conf;
}

/** `nginx -t` on a prepared site: exit status and nginx's own words. */
export function nginxCheck(site: NginxSite): { ok: boolean; output: string } {
  const r = spawnSync('nginx', ['-t', '-q', '-p', site.dir, '-c', site.conf, '-e', join(site.dir, 'error.log')], {
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`nginx not found (apt-get install nginx-light): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Checks a prepared site (`nginx -t`) and runs nginx on it in the foreground; resolves once it listens. */
export async function startNginx(site: NginxSite): Promise<ChildProcess> {
  const check = nginxCheck(site);
  if (!check.ok) throw new Error(`nginx -t failed: ${check.output}`);
  const nginx = spawn(
    'nginx',
    ['-p', site.dir, '-c', site.conf, '-e', join(site.dir, 'error.log'), '-g', 'daemon off;'],
    {
      stdio: 'ignore',
    },
  );
  await waitForPort(site.httpsPort, nginx);
  return nginx;
}

export interface Cluster {
  redis: TestRedis;
  edges: ServiceProcess[];
  workers: ServiceProcess[];
  nginx: ChildProcess;
  site: NginxSite;
  /** With `operators`: the camera gateway (its cameras from the API, kept in memory) and the events service. */
  gateway?: ServiceProcess;
  events?: ServiceProcess;
  /** wss:// URL of /ws/detect through nginx. */
  url: string;
  /** https:// base URL through nginx. */
  http: string;
  jwtSecret: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  edges?: number;
  workers?: number;
  modelPath: string;
  /** Settings on top of deploy/site.env (the site's shared settings). */
  env?: Record<string, string>;
  jwtSecret?: string;
  /** Also a camera gateway and the events service behind nginx, for the site console at /console/. */
  operators?: boolean;
}

/**
 * The compose topology as local processes: redis-server, edges, workers and Debian's nginx as the
 * load balancer, from the same files (deploy/site.env, the nginx template, the dev certificate
 * script). Authentication is on, as at a site; the edges trust nginx's X-Forwarded-For.
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const jwtSecret = o.jwtSecret ?? TEST_JWT_SECRET;
  const redis = await startTestRedis({ own: true });
  const started: ServiceProcess[] = [];
  let nginx: ChildProcess | undefined;
  let site: NginxSite | undefined;
  const stop = async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await new Promise((r) => nginx!.once('exit', r));
    }
    await Promise.all(started.map((p) => p.kill('SIGTERM')));
    await redis.stop();
    if (site) rmSync(site.dir, { recursive: true, force: true });
  };
  try {
    const common = { ...readSiteEnv(), REDIS_URL: redis.url, MODEL_PATH: o.modelPath, METRICS_PORT: '0', ...o.env };
    const workers = await Promise.all(
      Array.from({ length: o.workers ?? 2 }, (_, i) =>
        startService('worker', { ...common, WORKER_ID: `worker-${i + 1}` }),
      ),
    );
    started.push(...workers);
    const edgeEnv = {
      ...common,
      HOST: '127.0.0.1',
      AUTH_DISABLED: '',
      JWT_SECRET: jwtSecret,
      TRUSTED_PROXIES: 'loopback',
    };
    const edges = await Promise.all(
      Array.from({ length: o.edges ?? 2 }, (_, i) => startService('edge', { ...edgeEnv, EDGE_ID: `edge-${i + 1}` })),
    );
    started.push(...edges);
    const auth = { AUTH_DISABLED: '', JWT_SECRET: jwtSecret };
    const [gateway, events] = o.operators
      ? await Promise.all([
          startService('gateway', {
            ...common,
            ...auth,
            GATEWAY_EDGE_URLS: edges.map((e) => `ws://127.0.0.1:${e.port}${DETECT_PATH}`).join(','),
          }),
          startService('events', { ...common, ...auth }),
        ])
      : [];
    started.push(...[gateway, events].filter((p): p is ServiceProcess => p !== undefined));
    site = await prepareNginx(
      edges.map((e) => `127.0.0.1:${e.port}`),
      undefined,
      undefined,
      {
        gateways: gateway ? [`127.0.0.1:${gateway.port}`] : [],
        events: events ? [`127.0.0.1:${events.port}`] : [],
      },
    );
    nginx = await startNginx(site);
    return {
      redis,
      edges,
      workers,
      nginx,
      site,
      gateway,
      events,
      url: `wss://127.0.0.1:${site.httpsPort}${DETECT_PATH}`,
      http: `https://127.0.0.1:${site.httpsPort}`,
      jwtSecret,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForPort(port: number, proc: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
}
