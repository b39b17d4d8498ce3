import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse } from 'yaml';
import {
  cleanupPrefix,
  COLORS,
  freePort,
  modelsDir,
  prepareNginx,
  repoRoot,
  signTestToken,
  startNginx,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type ServiceProcess,
  sleep,
} from '@vision/testing';
import { DETECT_PATH, PROTOCOL_V1 } from '@vision/wire';

const CHROMIUM = '/usr/bin/chromium';

/**
 * What a newcomer and an operator do first, as the README says it: start an edge and workers on
 * one host with the default ops ports; open the embedded server from a web app of their own (the
 * browser snippet of the README, served from another origin); create a compose site's secrets.
 */
describe('newcomer and operator paths', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const s of stops.reverse()) await s();
  });

  it('an edge and two workers share a host with the default METRICS_PORT', async () => {
    const redis = await startTestRedis();
    const prefix = uniquePrefix('host');
    stops.push(
      () => redis.stop(),
      () => cleanupPrefix(redis.url, prefix),
    );
    // METRICS_PORT unset (the harness would pick free ports): each role's own default.
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      METRICS_PORT: '',
      HOST: '127.0.0.1',
    };
    const procs: ServiceProcess[] = [];
    stops.push(() => Promise.all(procs.map((p) => p.kill('SIGKILL'))));
    procs.push(await startService('edge', env), await startService('worker', env), await startService('worker', env));
    const [edge, first, second] = procs;
    expect([edge.metricsPort, first.metricsPort]).toEqual([9464, 9465]);
    // The second worker on the host finds 9465 taken, says where it went, and serves.
    expect(second.metricsPort).not.toBe(9465);
    expect(second.logs.some((l) => String(l['msg']).includes('default METRICS_PORT in use'))).toBe(true);
    for (const p of procs) expect((await fetch(`http://127.0.0.1:${p.metricsPort}/healthz`)).status).toBe(200);
    await expect
      .poll(async () => (await (await fetch(`http://127.0.0.1:${edge.port}/readyz`)).json()) as { workers: boolean })
      .toMatchObject({ workers: true });
  });

  it(
    "answers the README's browser snippet from a web app on another origin (npm start, no key source)",
    { timeout: 60_000 },
    async () => {
      const port = await freePort();
      const server = await startService('server', {
        MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
        PORT: String(port),
        HOST: '127.0.0.1',
        INTRA_OP_THREADS: '1',
      });
      stops.push(() => server.kill('SIGKILL'));
      // The snippet as the README prints it, in a page of its own origin (another port).
      const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
      const snippet = /```html\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(snippet, 'README.md has an html snippet').toBeDefined();
      const demo = snippet!.replaceAll('localhost:8080', `127.0.0.1:${port}`);
      const page = `<!doctype html><canvas id="frame" width="640" height="480"></canvas><script>
      const c = document.getElementById('frame').getContext('2d');
      c.fillStyle = 'rgb(114,114,114)'; c.fillRect(0, 0, 640, 480);
      c.fillStyle = 'rgb(${COLORS.red.join(',')})'; c.fillRect(320, 240, 32, 32);</script>${demo}`;
      const app: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
      await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
      stops.push(() => new Promise((r) => app.close(r)));
      const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      stops.push(() => browser.close());
      const tab = await browser.newPage();
      // The snippet logs what it receives: the boxes, as a JSON array.
      const logged = new Promise<string>((resolve) =>
        tab.on('console', (m) => m.text().startsWith('[') && resolve(m.text())),
      );
      await tab.goto(`http://127.0.0.1:${(app.address() as { port: number }).port}/`);
      const boxes = JSON.parse(await logged) as { name: string; xmin: number; ymin: number }[];
      expect(boxes.map((b) => [b.name, Math.round(b.xmin), Math.round(b.ymin)])).toEqual([['red', 320, 240]]);
      // Nothing was refused: an embedded server without a key source takes any Origin.
      expect(server.logs.some((l) => String(l['msg']).includes('Origin refused'))).toBe(false);
    },
  );

  it(
    'with a key source, refuses a browser Origin not in ALLOWED_ORIGINS with 403 and names the setting in one log line',
    { timeout: 30_000 },
    async () => {
      const server = await startService('server', {
        MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
        HOST: '127.0.0.1',
        AUTH_DISABLED: '',
        JWT_SECRET: TEST_JWT_SECRET,
      });
      stops.push(() => server.kill('SIGKILL'));
      const token = await signTestToken({ sub: 'web-app' });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          await new Promise<number>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${server.port}${DETECT_PATH}`, [PROTOCOL_V1, `bearer.${token}`], {
              headers: { origin: 'http://app.example' },
            });
            ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
            ws.once('open', () => reject(new Error('upgrade accepted')));
            ws.once('error', () => undefined);
          }),
        );
      }
      expect(statuses).toEqual([403, 403, 403]);
      await expect
        .poll(() => server.logs.filter((l) => String(l['msg']).includes('Origin refused')).length)
        .toBeGreaterThan(0);
      await sleep(300); // the child's later lines, if any
      // Throttled: three refusals, one line.
      expect(server.logs.filter((l) => String(l['msg']).includes('Origin refused'))).toHaveLength(1);
      const line = server.logs.find((l) => String(l['msg']).includes('Origin refused'))!;
      expect(String(line['msg'])).toContain('ALLOWED_ORIGINS');
      expect(line['origin']).toBe('http://app.example');
    },
  );

  it('creates a compose site .env once, with secrets compose accepts, and never overwrites it', () => {
    const site = mkdtempSync(join(tmpdir(), 'site-'));
    mkdirSync(join(site, 'deploy'));
    copyFileSync(join(repoRoot(), 'deploy', 'init-site.sh'), join(site, 'deploy', 'init-site.sh'));
    execFileSync('bash', [join(site, 'deploy', 'init-site.sh')]);
    const env = readFileSync(join(site, '.env'), 'utf8');
    expect(statSync(join(site, '.env')).mode & 0o777).toBe(0o600);
    expect(/^JWT_SECRET=([0-9a-f]{64})$/m.exec(env)).not.toBeNull();
    execFileSync('bash', [join(site, 'deploy', 'init-site.sh')], { stdio: 'ignore' });
    expect(readFileSync(join(site, '.env'), 'utf8')).toBe(env);
    // docker-compose's required-variable checks pass with it (no engine needed to render the file).
    const rendered = execFileSync(
      'docker-compose',
      ['--env-file', join(site, '.env'), '-f', join(repoRoot(), 'docker-compose.yml'), 'config'],
      { cwd: repoRoot() },
    ).toString();
    expect(rendered).toContain(/^JWT_SECRET=(\S+)$/m.exec(env)![1]);
  });

  it(
    "runs deploy-compose.md's six steps as written; nginx serves the certificate step 2 made",
    { timeout: 60_000 },
    async () => {
      const doc = readFileSync(join(repoRoot(), 'docs', 'deploy-compose.md'), 'utf8');
      const block = /## A site in six steps\n+```bash\n([\s\S]*?)```/.exec(doc)?.[1];
      expect(block, 'deploy-compose.md has the six steps').toBeDefined();
      const steps = block!
        .split('\n')
        .map((l) => l.replace(/\s+# .*$/, '').trim())
        .filter(Boolean);
      expect(steps).toHaveLength(7); // the clone, then the six steps
      // The clone: a copy of what the steps use. The model comes from a home of its own.
      const site = mkdtempSync(join(tmpdir(), 'site-'));
      cpSync(join(repoRoot(), 'deploy'), join(site, 'deploy'), { recursive: true });
      copyFileSync(join(repoRoot(), 'docker-compose.yml'), join(site, 'docker-compose.yml'));
      const home = mkdtempSync(join(tmpdir(), 'home-'));
      copyFileSync(join(modelsDir(), 'colors-v8-dyn.onnx'), join(home, 'yolov8n.onnx'));
      const shell = (cmd: string) => {
        const r = spawnSync('sh', ['-c', cmd], { cwd: site, env: { PATH: process.env['PATH'], HOME: home } });
        expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
        return r.stdout.toString();
      };
      let rendered: { services: Record<string, { environment: Record<string, string>; volumes?: unknown[] }> } = {
        services: {},
      };
      let token = '';
      for (const step of steps.slice(1)) {
        const exec = /^TOKEN=\$\(docker compose exec -T (\S+) (.*)\)$/.exec(step);
        if (step.startsWith('docker compose up')) {
          // No Docker engine here: compose renders the site statically (required variables, env files, mounts).
          rendered = parse(shell('docker-compose config')) as typeof rendered;
        } else if (step === 'docker compose ps') {
          continue; // the services below are started for real instead
        } else if (exec) {
          // The command as the container runs it (the image's working directory is the checkout), with its environment.
          const [, service, command] = exec;
          const env = { PATH: process.env['PATH'], ...rendered.services[service].environment };
          const [bin, ...args] = command.split(' ');
          token = execFileSync(bin, args, { cwd: repoRoot(), env }).toString().trim();
        } else {
          shell(step);
        }
      }
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      // nginx with the certificate folder compose mounts into it, in front of a real edge and worker.
      const certs = rendered.services['nginx']
        .volumes!.map(String)
        .find((v) => v.endsWith(':/etc/nginx/certs:ro'))
        ?.split(':')[0];
      expect(certs).toBe(join(site, 'deploy', 'nginx', 'certs'));
      expect(existsSync(join(site, 'deploy', 'nginx', 'certs', 'tls.crt'))).toBe(true);
      const redis = await startTestRedis();
      const prefix = uniquePrefix('site');
      stops.push(
        () => redis.stop(),
        () => cleanupPrefix(redis.url, prefix),
      );
      const env = {
        ...rendered.services['edge-1'].environment,
        // One local Redis stands in for compose's two (frames and state).
        REDIS_URL: redis.url,
        STATE_REDIS_URL: redis.url,
        REDIS_PREFIX: prefix,
        MODEL_PATH: join(site, 'models', 'yolov8n.onnx'),
        HOST: '127.0.0.1',
        TRUSTED_PROXIES: 'loopback',
        METRICS_PORT: '0',
        AUTH_DISABLED: '',
      };
      const worker = await startService('worker', { ...env, EDGE_ID: '' });
      stops.push(() => worker.kill('SIGKILL'));
      const edge = await startService('edge', env);
      stops.push(() => edge.kill('SIGKILL'));
      const nginxSite = await prepareNginx([`127.0.0.1:${edge.port}`], undefined, certs);
      const nginx = await startNginx(nginxSite);
      stops.push(async () => void nginx.kill('SIGQUIT'));
      // The doc's first check, and the token against the site's key: localhost:443 is nginx's port here.
      const curl = (...args: string[]) =>
        shell(`curl -sS --connect-to localhost:443:127.0.0.1:${nginxSite.httpsPort} ${args.join(' ')}`);
      const firstCheck = /^curl (--cacert \S+ https:\/\/localhost\/readyz)$/m.exec(doc)?.[1];
      expect(firstCheck, "deploy-compose.md's first check").toBeDefined();
      expect(JSON.parse(curl(firstCheck!))).toMatchObject({ ready: true });
      const models = curl(
        `-H 'Authorization: Bearer ${token}' --cacert deploy/nginx/certs/tls.crt`,
        'https://localhost/v1/models',
      );
      expect(JSON.parse(models)).toHaveProperty('models');
    },
  );

  it('dev-cert.sh refuses a host name where a folder goes, and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cert-'));
    const script = join(repoRoot(), 'deploy', 'nginx', 'dev-cert.sh');
    for (const args of [['vision.example.com'], ['--out', 'vision.example.com']]) {
      const r = spawnSync('sh', [script, ...args], { cwd: dir, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--name vision.example.com');
      expect(existsSync(join(dir, 'vision.example.com'))).toBe(false);
    }
    const made = spawnSync('sh', [script, '--name', 'vision.example.com', '--out', './certs'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(made.status).toBe(0);
    const text = execFileSync('openssl', [
      'x509',
      '-noout',
      '-ext',
      'subjectAltName',
      '-in',
      join(dir, 'certs', 'tls.crt'),
    ]);
    expect(text.toString()).toContain('DNS:vision.example.com');
  });
});
