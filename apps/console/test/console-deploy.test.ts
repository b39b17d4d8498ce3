import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { freePort, repoRoot, sleep, writeNginxMain } from '@vision/testing';

const root = repoRoot();
const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');

/**
 * The console on Kubernetes: its image serves apps/console/dist with deploy/nginx/console.conf
 * (run here with Debian's nginx, as the image would), and its Ingress routes the console and the
 * APIs it calls on one host.
 */
describe('console deployment: the image, its nginx and the Ingress', () => {
  let nginx: ChildProcess | undefined;

  afterAll(() => {
    nginx?.kill('SIGQUIT');
  });

  it('the image copies the built console to where console.conf serves it, and runs as a non-root user', () => {
    const dockerfile = read('deploy', 'docker', 'console.Dockerfile');
    const conf = read('deploy', 'nginx', 'console.conf');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m);
    const served = /alias (\S+)\/;/.exec(conf)![1];
    expect(dockerfile).toContain(`COPY --from=build /app/apps/console/dist ${served}`);
    expect(dockerfile).toContain('COPY deploy/nginx/console.conf /etc/nginx/conf.d/default.conf');
  });

  it("serves the console with the same policy as compose's nginx, and nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-nginx-'));
    const port = await freePort();
    const server = read('deploy', 'nginx', 'console.conf')
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('/usr/share/nginx/console/', `${join(root, 'apps', 'console', 'dist')}/`);
    writeFileSync(join(dir, 'console.conf'), server);
    const conf = writeNginxMain(dir, join(dir, 'console.conf'));
    nginx = spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
      stdio: 'ignore',
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await sleep(50);
    }
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const template = read('deploy', 'nginx', 'templates', 'vision.conf.template');
    const policy = /Content-Security-Policy "([^"]+)"/.exec(template)![1];
    expect(page.headers.get('content-security-policy')).toBe(policy);
    expect((await fetch(`${base}/console/console.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/console`, { redirect: 'manual' })).status).toBe(308);
    expect((await fetch(`${base}/v1/cameras`)).status).toBe(404);
  });

  it('the Ingress routes the console, the gateway API and the events API and feed by one host', () => {
    const docs = parseAllDocuments(read('deploy', 'k8s', 'console.yaml')).map((d) => d.toJS() as Record<string, never>);
    const ingress = docs.find((d) => d['kind'] === 'Ingress') as unknown as {
      spec: { rules: { host: string; http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] };
    };
    const edgeIngress = parseAllDocuments(read('deploy', 'k8s', 'edge.yaml'))
      .map((d) => d.toJS() as { kind: string; spec?: { rules: { host: string }[] } })
      .find((d) => d.kind === 'Ingress')!;
    expect(ingress.spec.rules[0].host).toBe(edgeIngress.spec!.rules[0].host);
    expect(Object.fromEntries(ingress.spec.rules[0].http.paths.map((p) => [p.path, p.backend.service.name]))).toEqual({
      '/console': 'vision-console',
      '/v1/cameras': 'vision-gateway',
      '/v1/events': 'vision-events',
      '/ws/events': 'vision-events',
    });
    expect(read('deploy', 'k8s', 'kustomization.yaml')).toMatch(/- console\.yaml/);
  });
});
