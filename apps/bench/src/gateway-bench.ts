import { setTimeout as sleep } from 'node:timers/promises';
import { DETECT_PATH } from '@vision/wire';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  rssMb,
  startMjpegServer,
  startRtspServer,
  startService,
  startTestRedis,
  uniquePrefix,
  type ServiceProcess,
} from '@vision/testing';
import { benchClip } from './bench-clip';
import { cpuSeconds } from './cpu-usage';
import { percentile } from './stats';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

/**
 * `mjpeg-scaled`: the same MJPEG cameras with a smaller maxWidth × maxHeight, so ffmpeg reads and scales them.
 * `rtsp-recorded`: the RTSP cameras with `record: true` (their video also written in segments).
 */
const SOURCES = ['rtsp', 'rtsp-recorded', 'mjpeg', 'mjpeg-scaled'] as const;
type Source = (typeof SOURCES)[number];

const options = {
  cameras: opt.whole('cameras per run', 4, 1),
  fps: opt.positives('target fps per camera', '5,15'),
  sources: opt.list('camera sources', SOURCES, SOURCES.join(',')),
  sourceFps: opt.positive('frame rate the cameras send at', 25),
  seconds: opt.positive('measured window per run', 20),
  warmup: opt.positive('seconds before measuring', 4),
  runs: opt.whole('runs per scenario (medians reported)', 3, 1),
  out: opt.text('where results.json goes', 'results/gateway-bench', '<dir>'),
};

interface Sample {
  source: Source;
  fps: number;
  run: number;
  /** Cores used per camera: the gateway process, its ffmpeg children, and both. */
  nodePerCamera: number;
  ffmpegPerCamera: number;
  perCamera: number;
  /** Frames each camera delivered per second (should be the target fps). */
  deliveredFps: number;
  /** Resident memory of the gateway and its children, per camera (MB). */
  rssPerCamera: number;
  /** Bytes of recorded segments written per minute per camera (0 where nothing is recorded). */
  diskBytesPerMinute: number;
}

/**
 * `npm run bench:gateway`: the CPU a camera costs the gateway, for sizing (docs/cameras.md).
 * 720p H.264 over RTSP (2.8 Mbit/s at the source rate, decoded and re-encoded as JPEG by ffmpeg) and
 * 720p MJPEG over HTTP (passed through in Node, or scaled to 640×360 by ffmpeg), each at 5 and 15 fps,
 * N cameras at a time; the delivered fps shows whether each reader thins by the real clock. Frames
 * go to a real edge and Redis with a consumer that answers at once, so no inference shares the CPU.
 * Counted: the gateway process and its ffmpeg children (from /proc), over a steady window after a
 * warm-up; the RTSP/MJPEG servers, edge and Redis are not. Medians of `--runs` runs.
 */
async function main(o: OptionValues<typeof options>): Promise<void> {
  const { cameras, sourceFps } = o;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const clip = await benchClip(dir, sourceFps);
  const frames = readdirSync(dir)
    .filter((f) => f.startsWith('frame-'))
    .sort()
    .map((f) => readFileSync(join(dir, f)));
  const redis = await startTestRedis({ own: true });
  const prefix = uniquePrefix('gwbench');
  const procs: ServiceProcess[] = [];
  let sink: ChildProcess | undefined;
  const rtsp = await startRtspServer({ clip, fps: sourceFps });
  const mjpeg = await startMjpegServer({ frames, fps: sourceFps });
  const samples: Sample[] = [];
  try {
    const edge = await startService('edge', {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      HOST: '127.0.0.1',
      MAX_CONNECTIONS_PER_IP: '1000',
      MAX_CONNECTIONS_PER_SUBJECT: '1000',
      TENANT_MAX_QUEUE: '1000',
      MAX_QUEUE: '1000',
      STREAM_MAXLEN: '10000',
    });
    procs.push(edge);
    sink = spawn(process.execPath, [join(__dirname, 'sink-worker.js'), redis.url, prefix], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve) => sink!.stdout!.once('data', resolve));
    for (const source of o.sources) {
      for (const fps of o.fps) {
        for (let r = 1; r <= o.runs; r++) {
          const url = source.startsWith('rtsp') ? rtsp.url() : mjpeg.url('/stream.mjpg');
          const s = await measure({
            dir,
            edgePort: edge.port!,
            camera: {
              url,
              ...(source === 'mjpeg-scaled' ? { maxWidth: 640, maxHeight: 360 } : {}),
              ...(source === 'rtsp-recorded' ? { record: true } : {}),
            },
            cameras,
            fps,
            warmupS: o.warmup,
            seconds: o.seconds,
          });
          samples.push({ source, fps, run: r, ...s });
          progress(JSON.stringify({ source, fps, run: r, ...s }));
        }
      }
    }
  } finally {
    sink?.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await Promise.all([rtsp.kill('SIGTERM'), mjpeg.stop()]);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const groups = [...new Set(samples.map((s) => `${s.source}@${s.fps}`))];
  const rows = groups.map((g) => {
    const xs = samples.filter((s) => `${s.source}@${s.fps}` === g);
    const med = (k: keyof Sample) =>
      percentile(
        xs.map((x) => x[k] as number),
        50,
      );
    return {
      scenario: g,
      perCamera: med('perCamera'),
      node: med('nodePerCamera'),
      ffmpeg: med('ffmpegPerCamera'),
      delivered: med('deliveredFps'),
      rss: med('rssPerCamera'),
      disk: med('diskBytesPerMinute'),
      runs: xs.length,
    };
  });
  console.log(
    `\n${cameras} cameras per run, ${o.seconds} s measured, medians of ${o.runs} run(s); ` +
      'CPU in % of one core per camera\n',
  );
  printTable(
    [
      'source @ fps',
      'CPU/camera %',
      'node %',
      'ffmpeg %',
      'delivered fps',
      'MB/camera',
      'cameras per core',
      'disk MB/min/camera',
    ],
    rows.map((r) => [
      r.scenario,
      r.perCamera * 100,
      r.node * 100,
      r.ffmpeg * 100,
      r.delivered,
      r.rss,
      r.perCamera > 0 ? Math.floor(1 / r.perCamera) : NaN,
      r.disk / 1e6,
    ]),
  );
  mkdirSync(o.out, { recursive: true });
  writeFileSync(
    join(o.out, 'results.json'),
    JSON.stringify({ cameras, sourceFps, seconds: o.seconds, samples, medians: rows }, null, 2),
  );
}

async function measure(o: {
  dir: string;
  edgePort: number;
  /** Each camera's entry, less its id and fps. */
  camera: Record<string, unknown>;
  cameras: number;
  fps: number;
  warmupS: number;
  seconds: number;
}): Promise<Omit<Sample, 'source' | 'fps' | 'run'>> {
  const file = join(o.dir, 'cameras.json');
  // Each run records into a fresh folder (24 h retention: nothing is swept while measuring).
  const recordDir = mkdtempSync(join(o.dir, 'record-'));
  writeFileSync(
    file,
    JSON.stringify({
      cameras: Array.from({ length: o.cameras }, (_, i) => ({ id: `cam-${i}`, ...o.camera, fps: o.fps })),
    }),
  );
  const gw = await startService('gateway', {
    CAMERAS_FILE: file,
    GATEWAY_EDGE_URLS: `ws://127.0.0.1:${o.edgePort}${DETECT_PATH}`,
    HOST: '127.0.0.1',
    GATEWAY_RECORD_DIR: recordDir,
  });
  try {
    const framesIn = async () => {
      const r = (await (await fetch(`http://127.0.0.1:${gw.port}/v1/cameras`)).json()) as {
        cameras: { stats: { framesIn: number } }[];
      };
      return r.cameras.reduce((n, c) => n + c.stats.framesIn, 0);
    };
    await sleep(o.warmupS * 1000);
    const pid = gw.proc.pid!;
    const kids = children(pid);
    const t0 = performance.now();
    const [node0, kids0, in0, disk0] = [cpuSeconds(pid), kids.map(cpuSeconds), await framesIn(), bytesIn(recordDir)];
    await sleep(o.seconds * 1000);
    const [node1, kids1, in1, disk1] = [cpuSeconds(pid), kids.map(cpuSeconds), await framesIn(), bytesIn(recordDir)];
    const wall = (performance.now() - t0) / 1000;
    const rss = [pid, ...kids].reduce((sum, p) => sum + rssMb(p), 0);
    if (children(pid).join() !== kids.join())
      throw new Error('an ffmpeg child restarted during the measurement; the figures would be wrong');
    const node = (node1 - node0) / wall / o.cameras;
    const ffmpeg = kids1.reduce((s, v, i) => s + v - kids0[i], 0) / wall / o.cameras;
    return {
      nodePerCamera: node,
      ffmpegPerCamera: ffmpeg,
      perCamera: node + ffmpeg,
      deliveredFps: (in1 - in0) / wall / o.cameras,
      rssPerCamera: rss / o.cameras,
      diskBytesPerMinute: ((disk1 - disk0) / wall / o.cameras) * 60,
    };
  } finally {
    await gw.kill('SIGTERM');
    rmSync(recordDir, { recursive: true, force: true });
  }
}

/** Bytes of every file under `dir` (the recorded segments). */
function bytesIn(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}

/** Pids whose parent is `pid` (the gateway's ffmpeg children), sorted. */
function children(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}

runBench(
  { name: 'bench:gateway', about: 'The CPU a camera costs the gateway, per source kind and rate.', options },
  main,
);
