import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { loadEventsConfig } from '@vision/config';
import { CameraPipeline, EVENT_KINDS, parseSiteFile, validateRule, type SiteEvent } from '@vision/events';
import { EventsMetrics } from '@vision/metrics';
import { repoRoot } from '@vision/testing';

const root = repoRoot();
const file = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');
const cfg = loadEventsConfig({});
const siteOptions = {
  seenModelOf: () => undefined,
  seenClasses: () => undefined,
  defaults: cfg.ruleDefaults,
  maxRules: 64,
  webhookHosts: [],
  webhookSecret: undefined,
};

describe('events deployment files and docs', () => {
  it('compose: the events overlay adds the service and mosquitto, both health-checked, to a valid site', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', '-f', 'docker-compose.events.yml', 'config'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, JWT_SECRET: 'x'.repeat(32), GRAFANA_ADMIN_PASSWORD: 'test' },
    });
    if (r.error) throw new Error(`docker-compose is not installed: ${r.error.message}`);
    expect(r.status, r.stderr).toBe(0);
    const services = (parse(r.stdout) as { services: Record<string, Record<string, unknown>> }).services;
    for (const s of ['events', 'mosquitto']) expect(services[s]?.['healthcheck'], s).toBeDefined();
    expect(JSON.stringify(services['events']['depends_on'])).toContain('mosquitto');
    expect(JSON.stringify(services['events']['environment'])).toContain('mqtt://mosquitto:1883');
    // Its rules, counts, events and checkpoints are state: on the persistent Redis, which it waits for.
    expect(services['events']['environment']).toMatchObject({ STATE_REDIS_URL: 'redis://redis-state:6379' });
    expect(services['events']['depends_on']).toMatchObject({ 'redis-state': { condition: 'service_healthy' } });
    // The compose site file is a valid one.
    expect(parseSiteFile(file('deploy', 'events', 'site.json'), 'site.json', siteOptions).cameras.size).toBeGreaterThan(
      0,
    );
  });

  it('kubernetes: events.yaml validates, is in the kustomization, and carries a valid site file', () => {
    const models: Record<string, new (data: never) => { validate(): void }> = {
      'v1/ConfigMap': ConfigMap,
      'apps/v1/Deployment': Deployment,
      'v1/Service': Service,
      'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
      'v1/PersistentVolumeClaim': PersistentVolumeClaim,
    };
    const docs = parseAllDocuments(file('deploy', 'k8s', 'events.yaml')).map(
      (d) => d.toJS() as { apiVersion: string; kind: string; data?: Record<string, string> },
    );
    for (const d of docs)
      expect(() => new models[`${d.apiVersion}/${d.kind}`](d as never).validate(), d.kind).not.toThrow();
    expect(docs.map((d) => d.kind)).toEqual([
      'ConfigMap',
      'Deployment',
      'PersistentVolumeClaim',
      'Service',
      'PodDisruptionBudget',
    ]);
    // Snapshots go to the claim, which every replica mounts where EVENTS_SNAPSHOT_DIR points.
    const pod = (docs[1] as unknown as Deployment).spec!.template.spec!;
    const events = pod.containers[0];
    const dir = events.env!.find((e) => e.name === 'EVENTS_SNAPSHOT_DIR')?.value;
    const mount = events.volumeMounts!.find((m) => m.mountPath === dir);
    expect(pod.volumes!.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName).toBe(
      (docs[2] as unknown as PersistentVolumeClaim).metadata!.name,
    );
    expect(() => parseSiteFile(docs[0].data!['site.json'], 'site.json', siteOptions)).not.toThrow();
    expect((parse(file('deploy', 'k8s', 'kustomization.yaml')) as { resources: string[] }).resources).toContain(
      'events.yaml',
    );
  });

  it('grafana: every series the events dashboard plots is one the service exports', async () => {
    const dash = JSON.parse(file('deploy', 'grafana', 'dashboards', 'events.json')) as {
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    const exported = new Set((await new EventsMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const plotted = new Set<string>();
    for (const p of dash.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('prometheus');
      for (const t of p.targets ?? [])
        for (const m of t.expr.match(/\bvision_[a-z0-9_]+/g) ?? []) plotted.add(m.replace(/_(bucket|sum|count)$/, ''));
    }
    expect([...plotted].filter((m) => !exported.has(m))).toEqual([]);
    for (const m of ['vision_events_zone_occupancy', 'vision_events_line_crossings_total', 'vision_events_lag_seconds'])
      expect(plotted, m).toContain(m);
    expect(file('deploy', 'prometheus', 'prometheus.yml')).toMatch(/job_name: vision-events[\s\S]*port: 9467/);
  });

  it('asyncapi: the event schema names every field an event can have, and every kind', () => {
    const spec = parse(file('docs', 'events.asyncapi.yaml')) as {
      asyncapi: string;
      components: { schemas: { SiteEvent: { properties: Record<string, { enum?: string[] }>; required: string[] } } };
    };
    expect(spec.asyncapi).toMatch(/^3\./);
    const schema = spec.components.schemas.SiteEvent;
    expect(schema.properties['kind'].enum).toEqual([...EVENT_KINDS]);
    // Real events of every kind, from the pipeline itself.
    const ctx = { defaults: cfg.ruleDefaults, cameraKnown: () => true, classesOf: () => new Set(['person']) };
    const rules = [
      validateRule(
        {
          id: 'z',
          type: 'zone',
          polygon: [
            [0.5, 0],
            [1, 0],
            [1, 1],
            [0.5, 1],
          ],
          dwellS: 0.5,
        },
        'c',
        ctx,
        '',
        'file',
      ),
      validateRule({ id: 'l', type: 'line', from: [0.25, 1], to: [0.25, 0] }, 'c', ctx, '', 'file'),
      validateRule(
        {
          id: 'crowd',
          type: 'crowd',
          polygon: [
            [0.5, 0],
            [1, 0],
            [1, 1],
            [0.5, 1],
          ],
          threshold: 1,
        },
        'c',
        ctx,
        '',
        'file',
      ),
    ];
    const pipe = new CameraPipeline(
      'c',
      { site: 's', tracker: cfg.tracker, reorderMs: 0, maxPending: 10 },
      undefined,
      0,
    );
    const events: SiteEvent[] = [];
    for (let i = 0; i < 60; i++) {
      // Walks right, across the line (x 320) and into the zone (x 640 on), then vanishes.
      const x = 100 + i * 20;
      const dets: [number, number, number, number, number, number][] = i < 50 ? [[x, 300, x + 50, 420, 0.9, 0]] : [];
      pipe.offer(
        '1-0',
        {
          camera: 'c',
          frame: i,
          ts: 1000 + i * 100,
          model: 'm',
          w: 1280,
          h: 720,
          conf: 0.25,
          dets,
          names: { 0: 'person' },
        },
        0,
      );
      events.push(...pipe.drain(0, rules, false).events);
    }
    events.push(...pipe.expire(0, rules));
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(EVENT_KINDS));
    const fields = new Set(events.flatMap((e) => Object.keys(e)));
    expect([...fields].filter((f) => !(f in schema.properties))).toEqual([]);
    for (const e of events) for (const f of schema.required) expect(e, f).toHaveProperty(f);
  });
});
