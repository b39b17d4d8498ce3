import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { EdgeModule, type EdgeContext } from '@vision/edge';
import { INFERENCE_NODE_FLAGS } from '@vision/config';
import { EventsMetrics, GatewayMetrics, VisionMetrics } from '@vision/metrics';
import { nginxCheck, prepareNginx, repoRoot, type NginxSite } from '@vision/testing';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';

const root = repoRoot();
const deploy = (...p: string[]) => join(root, 'deploy', ...p);

/** Runs a validator CI installs (.ci/run); a missing one fails the test rather than skipping it. */
function run(cmd: string, args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) throw new Error(`${cmd} is not installed (see .ci/run): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const COMPOSE_ENV = { JWT_SECRET: 'x'.repeat(32), GRAFANA_ADMIN_PASSWORD: 'test' };

describe('deployment files', () => {
  it('docker-compose.yml: valid for Compose, every service health-checked, GPU reserved, workers mount models', () => {
    const r = run('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'cpu', 'config'], COMPOSE_ENV);
    expect(r.status, r.out).toBe(0);
    const config = parse(r.out) as { services: Record<string, Record<string, unknown>> };
    const services = config.services;
    expect(Object.keys(services).sort()).toEqual([
      'edge-1',
      'edge-2',
      'gateway',
      'grafana',
      'nginx',
      'prometheus',
      'redis',
      'redis-replica',
      'redis-state',
      'redis-state-replica',
      'sentinel-1',
      'sentinel-2',
      'sentinel-3',
      'worker-cpu',
      'worker-gpu',
    ]);
    // Debian's Compose lists every profile's services in `config`; the Sentinel ones start only with theirs.
    const sentinelOnly = ['redis-replica', 'redis-state-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3'];
    for (const name of sentinelOnly) expect(services[name]['profiles'], name).toEqual(['sentinel']);
    for (const [name, s] of Object.entries(services)) expect(s['healthcheck'], name).toBeDefined();
    expect(JSON.stringify(services['worker-gpu']['deploy'])).toContain('"capabilities":["gpu"]');
    for (const w of ['worker-gpu', 'worker-cpu']) expect(JSON.stringify(services[w]['volumes'])).toContain('/models');
    expect(JSON.stringify(services['redis']['command'])).toContain('noeviction');
    // Without the secrets, Compose refuses to start rather than running an open edge.
    expect(
      run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
        JWT_SECRET: '',
        GRAFANA_ADMIN_PASSWORD: '',
      }).status,
    ).not.toBe(0);
  });

  it('nginx: the template compose mounts renders to a config `nginx -t` accepts', async () => {
    const site = await prepareNginx(['localhost:8080', '127.0.0.1:8081']);
    try {
      const check = nginxCheck(site);
      expect(check.ok, check.output).toBe(true);
    } finally {
      rmSync(site.dir, { recursive: true, force: true });
    }
  });

  it('nginx: uploads up to BULK_MAX_UPLOAD_BYTES reach /v1/jobs; other paths keep the frame-sized cap', async () => {
    // A stand-in edge: answers with the body bytes it received and the X-Forwarded-For it was given.
    const edge = createServer((socket) => {
      let head = '';
      let bytes = 0;
      let body = -1;
      socket.on('data', (chunk: Buffer) => {
        if (body < 0) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          body = Buffer.byteLength(head.slice(end + 4), 'latin1');
          bytes = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        } else body += chunk.length;
        if (body >= bytes) {
          const answer = JSON.stringify({ bytes: body, xff: /x-forwarded-for: ([^\r]+)/i.exec(head)?.[1] });
          socket.end(
            'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
              `content-length: ${answer.length}\r\nconnection: close\r\n\r\n${answer}`,
          );
        }
      });
    });
    await new Promise<void>((r) => edge.listen(0, '127.0.0.1', () => r()));
    const site = await prepareNginx([`127.0.0.1:${(edge.address() as AddressInfo).port}`]);
    const nginx = spawn(
      'nginx',
      ['-p', site.dir, '-c', site.conf, '-e', join(site.dir, 'error.log'), '-g', 'daemon off;'],
      { stdio: 'ignore' },
    );
    try {
      const post = (path: string, size: number) => upload(site, path, Buffer.alloc(size));
      await expect
        .poll(
          () =>
            post('/v1/detect', 1).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 10_000 },
        )
        .toBe(200);
      const big = 20 * 1024 * 1024;
      // The whole body arrives, with the proxy headers of the parent location (X-Forwarded-For replaced).
      expect(await post('/v1/jobs', big)).toEqual({
        status: 200,
        body: JSON.stringify({ bytes: big, xff: '127.0.0.1' }),
      });
      expect((await post('/v1/jobs?model=general', big)).status).toBe(200);
      expect((await post('/v1/detect', big)).status).toBe(413);
    } finally {
      nginx.kill('SIGKILL');
      edge.close();
      rmSync(site.dir, { recursive: true, force: true });
    }
  });

  it('prometheus: promtool accepts the scrape config', () => {
    const r = run('promtool', ['check', 'config', deploy('prometheus', 'prometheus.yml')]);
    expect(r.status, r.out).toBe(0);
  });

  it('grafana: the dashboard loads and every series it plots is one the service exports', async () => {
    const dash = JSON.parse(readFileSync(deploy('grafana', 'dashboards', 'vision.json'), 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
    };
    const ds = parse(readFileSync(deploy('grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: { uid: string }[];
    };
    const provider = parse(readFileSync(deploy('grafana', 'provisioning', 'dashboards', 'vision.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    const registries = [new VisionMetrics().registry, new GatewayMetrics().registry, new EventsMetrics().registry];
    const exported = new Set(
      (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).flat().map((m) => m.name),
    );
    const plotted = new Set<string>();
    for (const p of dash.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource.uid, p.title).toBe(ds.datasources[0].uid);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets)
        for (const m of t.expr.match(/\b(vision|nodejs)_[a-z0-9_]+/g) ?? [])
          plotted.add(m.replace(/_(bucket|sum|count)$/, ''));
    }
    const missing = [...plotted].filter((m) => !exported.has(m));
    expect(missing).toEqual([]);
    // The panels the issue of operating a site needs.
    for (const m of [
      'vision_edge_frames_total',
      'vision_edge_frame_seconds',
      'vision_worker_batch_size',
      'vision_worker_busy_seconds_total',
      'vision_queue_backlog_frames',
      'vision_edge_connections',
      'vision_edge_rejections_total',
      'vision_gateway_frames_total',
      'vision_gateway_cameras',
      'vision_gateway_camera_state',
      'vision_gateway_result_seconds',
      'vision_gateway_last_frame_age_seconds',
      'vision_gateway_reconnects_total',
    ]) {
      expect(plotted, m).toContain(m);
    }
  });

  it('kubernetes: every manifest validates against its schema, and kustomize lists them all', () => {
    const models: Record<string, new (data: never) => { validate(): void }> = {
      'v1/Namespace': Namespace,
      'v1/ConfigMap': ConfigMap,
      'v1/Secret': Secret,
      'v1/Service': Service,
      'v1/PersistentVolumeClaim': PersistentVolumeClaim,
      'apps/v1/Deployment': Deployment,
      'networking.k8s.io/v1/Ingress': Ingress,
      'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
      'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
      'keda.sh/v1alpha1/ScaledObject': ScaledObject,
    };
    const kustomization = parse(readFileSync(deploy('k8s', 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const manifests = readdirSync(deploy('k8s')).filter(
      // Helm values (redis-values.yaml, redis-state-values.yaml) are not manifests: deploy-redis.test.ts.
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !f.endsWith('-values.yaml'),
    );
    expect(kustomization.resources.sort()).toEqual(manifests.sort());
    const kinds: string[] = [];
    for (const file of manifests) {
      for (const doc of parseAllDocuments(readFileSync(deploy('k8s', file), 'utf8'))) {
        expect(doc.errors, file).toEqual([]);
        const obj = doc.toJS() as { apiVersion: string; kind: string };
        const Model = models[`${obj.apiVersion}/${obj.kind}`];
        expect(Model, `${file}: ${obj.apiVersion} ${obj.kind}`).toBeDefined();
        expect(() => new Model(obj as never).validate(), `${file}: ${obj.kind}`).not.toThrow();
        kinds.push(obj.kind);
      }
    }
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Deployment',
        'Service',
        'Ingress',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
        'ScaledObject',
      ]),
    );
    // A schema cannot see that the worker asks for a GPU or that the drain fits the grace period.
    const worker = readFileSync(deploy('k8s', 'worker.yaml'), 'utf8');
    expect(worker).toMatch(/nvidia\.com\/gpu: 1/);
    const edge = parseAllDocuments(readFileSync(deploy('k8s', 'edge.yaml'), 'utf8'))[0].toJS() as {
      spec: { template: { spec: { terminationGracePeriodSeconds: number } } };
    };
    const config = parseAllDocuments(readFileSync(deploy('k8s', 'config.yaml'), 'utf8'))[0].toJS() as {
      data: Record<string, string>;
    };
    expect(edge.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      5000 + Number(config.data['SHUTDOWN_GRACE_MS']) + 5000,
    );
    // Bulk uploads (256 MiB) have an Ingress of their own with a body cap above the edge's; frames keep 9m.
    const ingresses = parseAllDocuments(readFileSync(deploy('k8s', 'edge.yaml'), 'utf8'))
      .map(
        (d) =>
          d.toJS() as {
            kind: string;
            metadata: { annotations: Record<string, string> };
            spec: { rules: { http: { paths: { path: string }[] } }[] };
          },
      )
      .filter((d) => d.kind === 'Ingress');
    const bodyCap = (path: string) =>
      ingresses.find((i) => i.spec.rules[0].http.paths.some((p) => p.path === path))?.metadata.annotations[
        'nginx.ingress.kubernetes.io/proxy-body-size'
      ];
    expect([bodyCap('/'), bodyCap('/v1/jobs')]).toEqual(['9m', '257m']);
  });

  it('openapi.yaml: describes every HTTP route the edge serves, with each method', () => {
    const spec = parse(readFileSync(join(root, 'docs', 'openapi.yaml'), 'utf8')) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(spec.openapi).toMatch(/^3\./);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((k) => k !== 'parameters')
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    // The routes the edge module's controllers declare (Nest's decorator metadata), `:id` as `{id}`.
    const served = (EdgeModule.forRoot({} as EdgeContext).controllers ?? []).flatMap((controller) => {
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      const proto = (controller as { prototype: Record<string, unknown> }).prototype;
      return Object.getOwnPropertyNames(proto).flatMap((name) => {
        const handler = proto[name];
        const method =
          typeof handler === 'function'
            ? (Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined)
            : undefined;
        if (method === undefined) return [];
        const path = ['', base, String(Reflect.getMetadata(PATH_METADATA, handler as object) ?? '')]
          .join('/')
          .replace(/\/+/g, '/')
          .replace(/\/$/, '')
          .replace(/:(\w+)/g, '{$1}');
        return [`${RequestMethod[method]} ${path}`];
      });
    });
    expect(served.length).toBeGreaterThan(5);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('Dockerfiles: multi-stage, non-root, a built entry point with its Node flags, no models', () => {
    const worker = ['node', ...INFERENCE_NODE_FLAGS, 'apps/worker/dist/main.js'];
    const gateway = ['node', 'apps/gateway/dist/main.js'];
    for (const [file, command] of [
      ['edge.Dockerfile', ['node', 'apps/edge/dist/main.js']],
      ['worker.Dockerfile', worker],
      ['worker-gpu.Dockerfile', worker],
      ['gateway.Dockerfile', gateway],
    ] as const) {
      const entry = command[command.length - 1];
      const text = readFileSync(deploy('docker', file), 'utf8');
      expect(text.match(/^FROM /gm)?.length ?? 0, file).toBeGreaterThanOrEqual(2);
      expect(text, file).toMatch(/^USER (?!root)\S+/m);
      expect(text, file).toContain(`CMD ${JSON.stringify(command).replaceAll(',', ', ')}`);
      expect(existsSync(join(root, entry)), `${entry} is built`).toBe(true);
      expect(text, file).toMatch(/npm prune --omit=dev/);
      expect(text, file).not.toMatch(/COPY .*models/);
    }
    const scripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts['start:worker']).toBe(worker.join(' '));
    expect(scripts['start']).toBe(['node', ...INFERENCE_NODE_FLAGS, 'apps/server/dist/main.js'].join(' '));
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'models', '*.onnx', '.git']) expect(ignore).toContain(p);
  });
});

/** POSTs `body` through nginx's TLS listener: the status (the stand-in edge's 200, or nginx's own) and the answer. */
function upload(site: NginxSite, path: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: site.httpsPort,
        path,
        method: 'POST',
        ca: site.ca,
        servername: 'localhost',
        headers: { 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
