import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import sharp from 'sharp';
import WebSocket from 'ws';
import { VisionClient, type WebSocketLike } from '@vision/client';
import { FrameWindowReader } from '@vision/frame-window';
import { imageFixturesDir, modelsDir, startRedisSite } from '@vision/testing';
import { percentile } from './stats';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

interface RunResult {
  /** Median over samples and cameras of the bytes one camera's window held. */
  heldPerCameraBytes: number;
  /** Most bytes all windows held together at a sample. */
  heldTotalMaxBytes: number;
  stored: number;
  failed: number;
  /** Event commit to snapshot readable. */
  writeP50Ms: number;
  writeP95Ms: number;
  writeMaxMs: number;
}

/** Pass of the red square across the camera, one 64 px step a frame: it crosses x 640 once a pass. */
const STEPS = 18;
/** Before measuring: the frame window (EVENTS_FRAME_WINDOW_MS, 10 s by default) fills up. */
const WARM_UP_MS = 12_000;

/**
 * `npm run bench:snapshots`: snapshots with real processes (Redis, a worker with the fixture
 * colour detector, an edge, the events service with EVENTS_SNAPSHOT_DIR): `--cameras` SDK clients
 * with a line rule and `--plain` without, each at `--fps`, sending a 1280×720 photo (a camera-like
 * JPEG) with a red square walking across the line. Prints the bytes the frame window held per
 * camera and in total, and the time from each event's commit to its snapshot being readable.
 */
const options = {
  cameras: opt.whole('cameras with a rule', 4, 1),
  plain: opt.whole('cameras without rules', 4),
  fps: opt.positive('frames per second per camera', 5),
  seconds: opt.positive('measured seconds per run (after 12 s of warm-up)', 30),
  runs: opt.whole('runs; medians are printed', 3, 1),
};

async function main(opts: OptionValues<typeof options>): Promise<void> {
  const frames = await clipFrames();
  const results: RunResult[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const r = await run(opts, frames);
    results.push(r);
    progress(`run ${i + 1}: ${JSON.stringify(r)}`);
  }
  const cell = (k: keyof RunResult, scale = 1) => {
    const values = results.map((r) => r[k] / scale);
    const round = (v: number) => Math.round(v * 10) / 10;
    return `${round(percentile(values, 50))} (${round(Math.min(...values))}–${round(Math.max(...values))})`;
  };
  console.log(
    `\nbench:snapshots, ${opts.cameras} cameras with a rule + ${opts.plain} without, ${opts.fps} fps, ` +
      `${frames[0].length} B frames, ${opts.seconds} s per run, medians (min–max) of ${results.length} run(s):`,
  );
  printTable(
    ['window per camera (KiB)', 'window total max (KiB)', 'stored', 'failed', 'p50 (ms)', 'p95 (ms)', 'max (ms)'],
    [
      [
        cell('heldPerCameraBytes', 1024),
        cell('heldTotalMaxBytes', 1024),
        cell('stored'),
        cell('failed'),
        cell('writeP50Ms'),
        cell('writeP95Ms'),
        cell('writeMaxMs'),
      ],
    ],
  );
}

/** The square over the photo at each step, as JPEG (a photo's bytes, like a real camera's). */
async function clipFrames(): Promise<Buffer[]> {
  // The photo in which the fixture detector sees nothing by itself.
  const photo = readFileSync(join(imageFixturesDir(), 'camera-1280x720.jpg'));
  // 64 px at a 64 px step on the fixture detector's grid (its cells are 64 px of a 1280×720 frame):
  // it sees the square whole in every frame, and the tracker's motion model follows it.
  const square = { create: { width: 64, height: 64, channels: 3 as const, background: { r: 255, g: 0, b: 0 } } };
  return Promise.all(
    Array.from({ length: STEPS }, (_, i) =>
      sharp(photo)
        .composite([{ input: square, left: 64 * (1 + i), top: 360 }])
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
}

async function run(o: OptionValues<typeof options>, frames: Buffer[]): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'snapshot-bench-'));
  const ruled = Array.from({ length: o.cameras }, (_, i) => `ruled-${i}`);
  const plain = Array.from({ length: o.plain }, (_, i) => `plain-${i}`);
  const gate = { id: 'gate', type: 'line', units: 'px', from: [640, 720], to: [640, 0], classes: ['red'] };
  const siteFile = join(dir, 'site.json');
  writeFileSync(
    siteFile,
    JSON.stringify({
      models: { default: ['red', 'green', 'blue'] },
      cameras: Object.fromEntries(ruled.map((c) => [c, { model: 'default', rules: [gate] }])),
    }),
  );
  const site = await startRedisSite('snapbench', { ownRedis: true });
  const redis = new Redis(site.redis.url);
  const clients: VisionClient[] = [];
  try {
    const events = await site.start('events', {
      EVENTS_SITE_FILE: siteFile,
      EVENTS_SNAPSHOT_DIR: join(dir, 'snapshots'),
      // The square jumps its own width a frame: at 5 fps its widened boxes overlap by IoU 0.17 only.
      EVENTS_TRACK_MATCH_IOU: '0.15',
    });
    await site.start('worker', { MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx') });
    const edge = await site.start('edge');
    await sleep(1500); // the workers read the frame window's policy once a second
    const reader = new FrameWindowReader(redis, site.prefix);
    let stop = false;
    const send = async (camera: string, offset: number) => {
      const client = new VisionClient({
        url: `ws://127.0.0.1:${edge.port}/ws/detect`,
        webSocket: (url, protocols, headers) => new WebSocket(url, protocols, { headers }) as unknown as WebSocketLike,
      });
      clients.push(client);
      const period = 1000 / o.fps;
      for (let i = offset; !stop; i++) {
        const due = Date.now() + period;
        await client.send(frames[i % STEPS], { streamId: camera, captureTs: Date.now() });
        await sleep(Math.max(0, due - Date.now()));
      }
    };
    const senders = [...ruled, ...plain].map((c, i) => send(c, i));
    await sleep(WARM_UP_MS);
    const from = Date.now();
    const perCamera: number[] = [];
    let totalMax = 0;
    while (Date.now() - from < o.seconds * 1000) {
      const held = await reader.held();
      perCamera.push(...Object.values(held.cameras));
      totalMax = Math.max(totalMax, held.total);
      await sleep(1000);
    }
    stop = true;
    await Promise.all(senders);
    await sleep(3000); // the last events' snapshots
    const metrics = await (await fetch(`http://127.0.0.1:${events.metricsPort}/metrics`)).text();
    progress(
      metrics
        .split('\n')
        .filter((l) =>
          /^vision_events_(total|frames_total|snapshots_total|processed|detections|tracks|lag_seconds_count)/.test(l),
        )
        .join('; '),
    );
    const records = readRecords(join(dir, 'snapshots')).filter((r) => r.committedAt >= from);
    const latencies = records.flatMap((r) => (r.storedAt ? [r.storedAt - r.committedAt] : []));
    return {
      heldPerCameraBytes: percentile(perCamera, 50),
      heldTotalMaxBytes: totalMax,
      stored: latencies.length,
      failed: records.length - latencies.length,
      writeP50Ms: percentile(latencies, 50),
      writeP95Ms: percentile(latencies, 95),
      writeMaxMs: Math.max(...latencies),
    };
  } finally {
    for (const c of clients) c.close();
    redis.disconnect();
    await site.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function readRecords(dir: string): { committedAt: number; storedAt?: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { committedAt: number; storedAt?: number });
}

runBench(
  { name: 'bench:snapshots', about: 'Snapshots: the frame window and the commit-to-readable time.', options },
  main,
);
