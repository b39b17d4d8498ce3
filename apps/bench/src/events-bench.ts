import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@vision/redis';
import { appendResults, type DetRow, type ResultsEntry } from '@vision/results-stream';
import { cleanupPrefix, startService, startTestRedis, uniquePrefix, type ServiceProcess } from '@vision/testing';
import { CpuMeter } from './cpu-usage';
import { percentile } from './stats';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

interface RunResult {
  detectionsPerSecond: number;
  detectionsPerCoreSecond: number;
  eventsCpuCores: number;
  events: number;
  lagP50Ms: number;
  lagP95Ms: number;
}

/**
 * `npm run bench:events`: the events service (a real process) fed synthetic detections through
 * the results streams on Redis: `--cameras` cameras at `--fps` with `--objects` objects each,
 * walking back and forth across a line and through a zone. Prints detections tracked per second
 * (the service's own counter) and per core of the events process, and the lag from capture time
 * to the event being durable on the events stream (p50, p95; it includes the reorder window,
 * EVENTS_REORDER_MS). Feeder, Redis and service share this machine.
 */
const options = {
  cameras: opt.whole('cameras', 64, 1),
  fps: opt.positive('frames per second per camera', 15),
  objects: opt.whole('objects per camera', 10, 1),
  seconds: opt.positive('measured seconds per run (after 2 s of warm-up)', 30),
  runs: opt.whole('runs; medians are printed', 3, 1),
};

async function main(opts: OptionValues<typeof options>): Promise<void> {
  const redis = await startTestRedis({ own: true });
  const results: RunResult[] = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const r = await run(redis.url, opts);
      results.push(r);
      progress(`run ${i + 1}: ${JSON.stringify(r)}`);
    }
  } finally {
    await redis.stop();
  }
  const med = (k: keyof RunResult) =>
    percentile(
      results.map((r) => r[k]),
      50,
    );
  console.log(
    `\nbench:events, ${opts.cameras} cameras x ${opts.fps} fps x ${opts.objects} objects, ` +
      `${opts.seconds} s per run, medians of ${results.length} run(s):`,
  );
  printTable(
    ['detections/s', 'detections/s per core', 'events CPU (cores)', 'events', 'lag p50 (ms)', 'lag p95 (ms)'],
    [
      [
        med('detectionsPerSecond'),
        med('detectionsPerCoreSecond'),
        med('eventsCpuCores'),
        med('events'),
        med('lagP50Ms'),
        med('lagP95Ms'),
      ].map((v) => Math.round(v * 100) / 100),
    ],
  );
}

async function run(
  url: string,
  o: { cameras: number; fps: number; objects: number; seconds: number },
): Promise<RunResult> {
  const prefix = uniquePrefix('eventsbench');
  const dir = mkdtempSync(join(tmpdir(), 'events-bench-'));
  const cams = Array.from({ length: o.cameras }, (_, i) => `cam-${i}`);
  const rules = [
    { id: 'gate', type: 'line', from: [0.5, 0.98], to: [0.5, 0.02] },
    {
      id: 'yard',
      type: 'zone',
      polygon: [
        [0.6, 0.2],
        [0.95, 0.2],
        [0.95, 0.98],
        [0.6, 0.98],
      ],
    },
  ];
  writeFileSync(
    join(dir, 'site.json'),
    JSON.stringify({
      models: { bench: ['person'] },
      cameras: Object.fromEntries(cams.map((c) => [c, { model: 'bench', rules }])),
    }),
  );
  const svc: ServiceProcess = await startService('events', {
    REDIS_URL: url,
    REDIS_PREFIX: prefix,
    EVENTS_SITE_FILE: join(dir, 'site.json'),
  });
  const r = createRedis(url, { name: 'bench-events-feeder', offlineQueue: true });
  try {
    const t0 = Date.now();
    const warmup = 2000;
    let meter: CpuMeter | undefined;
    let processedFrom = 0;
    let measuredFrom = 0;
    const ticks = Math.round(((warmup + o.seconds * 1000) / 1000) * o.fps);
    for (let n = 0; n < ticks; n++) {
      const due = t0 + (n * 1000) / o.fps;
      await sleep(Math.max(0, due - Date.now()));
      if (!meter && due - t0 >= warmup) {
        meter = new CpuMeter({ events: svc.proc.pid });
        measuredFrom = Date.now();
        processedFrom = await processed(svc);
      }
      const entries = cams.map((camera, c) => frame(camera, n + 1, Date.now(), n / o.fps + c * 0.37, o.objects));
      await appendResults(r, prefix, 8, 10_000, entries);
    }
    const cpu = meter!.since()['events'];
    const done = (await processed(svc)) - processedFrom;
    const wall = (Date.now() - measuredFrom) / 1000;
    // Lag of the events made in the measured window: stream id time (durable) minus capture time.
    const lags: number[] = [];
    for (let s = 0; s < 8; s++) {
      for (const [id, f] of await r.xrange(`${prefix}:events:stream:${s}`, '-', '+')) {
        const ts = (JSON.parse(f[f.indexOf('event') + 1]) as { ts: number }).ts;
        if (ts >= measuredFrom) lags.push(Number(id.split('-')[0]) - ts);
      }
    }
    return {
      detectionsPerSecond: done / wall,
      detectionsPerCoreSecond: done / wall / cpu,
      eventsCpuCores: cpu,
      events: lags.length,
      lagP50Ms: percentile(lags, 50),
      lagP95Ms: percentile(lags, 95),
    };
  } finally {
    r.disconnect();
    await svc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    await cleanupPrefix(url, prefix);
  }
}

/** Detections the service has tracked so far (its own counter). */
async function processed(svc: ServiceProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
  return Number(/^vision_events_detections_total (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** `objects` people walking back and forth across the frame on lanes, each at its own speed and phase. */
function frame(camera: string, id: number, ts: number, s: number, objects: number): ResultsEntry {
  const dets: DetRow[] = [];
  for (let k = 0; k < objects; k++) {
    const speed = 80 + 17 * k; // px/s
    const span = 1180;
    const pos = (s * speed + k * 211) % (2 * span);
    const x = 50 + (pos < span ? pos : 2 * span - pos);
    const y = 150 + ((k * 53) % 560);
    dets.push([x - 25, y - 110, x + 25, y, 0.9, 0]);
  }
  return { camera, frame: id, ts, model: 'bench', w: 1280, h: 720, conf: 0.25, dets, names: { 0: 'person' } };
}

runBench({ name: 'bench:events', about: 'The events service fed synthetic detections through Redis.', options }, main);
