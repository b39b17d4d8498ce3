import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { chromium as launcher, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { signTestToken, CONSOLE_SQUARE } from '@vision/testing';
import { PROBE, rowKey } from './console-wall-probe';
import { MainThreadTasks } from './main-thread-tasks';
import { EVENTS_CAMERA, startWallSite, type WallSite } from './console-wall-site';
import { percentile } from './stats';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

const CHROMIUM = '/usr/bin/chromium'; // Debian's package, as in apps/console/test/console-browser.test.ts
/** A wall monitor's size: all 64 tiles are laid out (and their pictures decoded) on it. */
const VIEWPORT = { width: 1920, height: 1080 };
/** After the measured window: the last committed events reach the timeline before rows are read. */
const SETTLE_MS = 3000;
/** How long the wall may take to show every camera's first picture. */
const WALL_READY_MS = 60_000;
const SNAPSHOT = /\/v1\/cameras\/([^/]+)\/snapshot$/;

const options = {
  cameras: opt.whole('cameras on the gateway and the wall', 64, 2),
  size: opt.text('size of the testsrc:// cameras', '320x240', '<WxH>'),
  fps: opt.positive('frame rate of the testsrc:// cameras', 1),
  seconds: opt.positive('measured seconds per run', 30),
  warmup: opt.positive('seconds between the pages being ready and measuring', 5),
  runs: opt.whole('runs (fresh browser pages on the same site); medians are printed', 3, 1),
  trace: opt.flag("also trace every task of the wall's main thread (a Chromium trace: it costs the browser CPU)"),
  browserCpu: opt.wholeOrUnset('pin Chromium to this CPU, the site and the bench to the others (taskset)', 0),
};

interface RunResult {
  /** Tiles showing a picture when measuring starts. */
  tiles: number;
  snapshotsPerSecond: number;
  /** Snapshot bytes a second of the median camera, and of all together. */
  bytesPerCameraPerSecond: number;
  bytesPerSecond: number;
  longTasks: number;
  longTaskP95Ms: number;
  longTaskMaxMs: number;
  /** With --trace, every task of the wall's main thread in the window: how many, their p95 and p99. */
  tasks: number;
  taskP95Ms: number;
  taskP99Ms: number;
  /** Share of the window the wall's main thread ran tasks (CDP Performance `TaskDuration`). */
  busyShare: number;
  /** Share of all the host's cores busy over the window (/proc/stat): the site and Chromium together. */
  hostBusyShare: number;
  /** Detection results a second the gateway got back: the events camera's, the median other camera's. */
  eventsCameraResultsPerSecond: number;
  otherResultsPerSecond: number;
  /** Events of the events camera committed in the window, and those whose row never showed. */
  events: number;
  missed: number;
  rowP50Ms: number;
  rowP95Ms: number;
  rowMaxMs: number;
}

/**
 * `npm run bench:console`: the console's wall with `--cameras` cameras (issue 31). The site the
 * console's browser tests start (console-wall-site.ts), every camera on one gateway; headless
 * Chromium signs in twice: one page shows the wall, one the events camera's view (its timeline).
 * Over `--seconds` it measures the wall page's long tasks and main-thread busy share, the bytes of
 * its snapshot responses, and for each event of the events camera committed in the window the time
 * from its commit (its events stream entry id) to its timeline row being in the view page's DOM.
 */
async function main(o: OptionValues<typeof options>): Promise<void> {
  const token = await signTestToken({ sub: 'ops', scope: 'cameras:read cameras:write events:read events:write' });
  const chromium = o.browserCpu === undefined ? CHROMIUM : pinned(o.browserCpu);
  progress(`starting the site: ${o.cameras} cameras`);
  const site = await startWallSite({ cameras: o.cameras, size: o.size, fps: o.fps, token });
  const redis = new Redis(site.redisUrl);
  let browser: Browser | undefined;
  const results: RunResult[] = [];
  try {
    browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox'] });
    for (let i = 0; i < o.runs; i++) {
      const r = await run(browser, site, redis, token, o);
      results.push(r);
      progress(`run ${i + 1}: ${JSON.stringify(r)}`);
    }
  } finally {
    await browser?.close();
    redis.disconnect();
    await site.stop();
  }
  const cell = (k: keyof RunResult, scale = 1, digits = 1) => {
    // A run without events has no latencies: left out, not NaN.
    const values = results.map((r) => r[k] / scale).filter(Number.isFinite);
    if (values.length === 0) return '-';
    const round = (v: number) => v.toFixed(digits);
    return `${round(percentile(values, 50))} (${round(Math.min(...values))}–${round(Math.max(...values))})`;
  };
  const alone = o.browserCpu === undefined ? '' : `, Chromium alone on CPU ${o.browserCpu}`;
  console.log(
    `\nbench:console, ${o.cameras} cameras (${EVENTS_CAMERA}: the square clip at ${CONSOLE_SQUARE.fps} fps; ` +
      `${o.cameras - 1} testsrc ${o.size} at ${o.fps} fps)${alone}, ${o.seconds} s per run, ` +
      `medians (min–max) of ${results.length} run(s):`,
  );
  printTable(
    ['figure', 'median (min–max)'],
    [
      ['tiles with a picture', cell('tiles', 1, 0)],
      ['snapshots per second, whole wall', cell('snapshotsPerSecond')],
      ['snapshot KB/s per camera (median camera)', cell('bytesPerCameraPerSecond', 1000)],
      ['snapshot KB/s, whole wall', cell('bytesPerSecond', 1000)],
      ['long tasks in the window', cell('longTasks', 1, 0)],
      ['long task p95 (ms; 0: none)', cell('longTaskP95Ms', 1, 0)],
      ['long task max (ms)', cell('longTaskMaxMs', 1, 0)],
      ['wall main-thread tasks in the window (--trace)', cell('tasks', 1, 0)],
      ['wall main-thread task p95 / p99 (ms, --trace)', `${cell('taskP95Ms')} / ${cell('taskP99Ms')}`],
      ['wall main thread busy (%)', cell('busyShare', 0.01)],
      ['host CPU busy, all cores (%)', cell('hostBusyShare', 0.01)],
      [`${EVENTS_CAMERA} results per second (of ${CONSOLE_SQUARE.fps})`, cell('eventsCameraResultsPerSecond')],
      [`other cameras' results per second (of ${o.fps})`, cell('otherResultsPerSecond', 1, 2)],
      ['events committed in the window', cell('events', 1, 0)],
      ['events whose row never showed', cell('missed', 1, 0)],
      ['event commit to timeline row p50 (ms)', cell('rowP50Ms', 1, 0)],
      ['event commit to timeline row p95 (ms)', cell('rowP95Ms', 1, 0)],
      ['event commit to timeline row max (ms)', cell('rowMaxMs', 1, 0)],
    ],
  );
}

/**
 * Pins this process (and so the site it spawns) to every CPU but `cpu`, and returns a Chromium
 * launcher script that runs it on `cpu` alone (its child processes inherit the affinity).
 */
function pinned(cpu: number): string {
  const others = cpus()
    .map((_, i) => i)
    .filter((i) => i !== cpu);
  if (others.length === 0 || others.length === cpus().length)
    throw new Error(`--browser-cpu ${cpu}: needs another CPU and this one (of ${cpus().length})`);
  execFileSync('taskset', ['-a', '-p', '-c', others.join(','), String(process.pid)], { stdio: 'ignore' });
  const script = join(mkdtempSync(join(tmpdir(), 'wall-chromium-')), 'chromium');
  writeFileSync(script, `#!/bin/sh\nexec taskset -c ${cpu} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  return script;
}

async function signIn(context: BrowserContext, origin: string, token: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => progress(`page error: ${err.message}`));
  await page.goto(`${origin}/console/`);
  await page.fill('#token', token);
  await page.click('#sign-in button[type=submit]');
  return page;
}

async function run(
  browser: Browser,
  site: WallSite,
  redis: Redis,
  token: string,
  o: OptionValues<typeof options>,
): Promise<RunResult> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: VIEWPORT });
  try {
    await context.addInitScript(PROBE);
    const wall = await signIn(context, site.origin, token);
    const view = await signIn(context, site.origin, token);
    await view.click(`.tile[data-camera="${EVENTS_CAMERA}"]`);
    await view.waitForSelector('#feed-state:text("(open)")', { timeout: 15_000 });
    const pictures =
      "[...document.querySelectorAll('.tile img')].filter((i) => i.complete && i.naturalWidth > 0).length";
    // Polled from here: the console's CSP (script-src 'self') refuses waitForFunction's string eval.
    const until = Date.now() + WALL_READY_MS;
    while (((await wall.evaluate(pictures)) as number) < site.cameras.length) {
      if (Date.now() > until) throw new Error(`the wall showed no picture for some cameras after ${WALL_READY_MS} ms`);
      await sleep(250);
    }

    const cdp = await context.newCDPSession(wall);
    await cdp.send('Performance.enable');
    // Snapshot bodies by their Content-Length (the console turns each into a blob: URL), counted once loaded.
    let measuring = false;
    let snapshots = 0;
    const bytes = new Map<string, number>();
    const requests = new Map<string, { camera: string; length: number }>();
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (e) => {
      const camera = SNAPSHOT.exec(new URL(e.response.url).pathname)?.[1];
      const length = Number(e.response.headers['content-length'] ?? e.response.headers['Content-Length']);
      if (measuring && camera !== undefined && e.response.status === 200) requests.set(e.requestId, { camera, length });
    });
    cdp.on('Network.loadingFinished', (e) => {
      const r = requests.get(e.requestId);
      if (r === undefined) return;
      requests.delete(e.requestId);
      snapshots++;
      // Without a Content-Length: the bytes on the wire (headers included).
      const length = Number.isFinite(r.length) ? r.length : e.encodedDataLength;
      bytes.set(r.camera, (bytes.get(r.camera) ?? 0) + length);
    });
    const taskSeconds = async () =>
      (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')?.value ?? NaN;
    await sleep(o.warmup * 1000);

    const tiles = (await wall.evaluate(pictures)) as number;
    const mark = (await wall.evaluate('performance.now()')) as number;
    const busy0 = await taskSeconds();
    const host0 = hostCpu();
    const traced = o.trace ? await MainThreadTasks.start(browser, wall) : undefined;
    const t0 = Date.now();
    measuring = true;
    await sleep(o.seconds * 1000);
    measuring = false;
    const t1 = Date.now();
    const tasks = (await traced?.stop()) ?? [];
    const busy1 = await taskSeconds();
    const host1 = hostCpu();
    const stats = await cameraStats(site, token);
    const end = (await wall.evaluate('performance.now()')) as number;
    const window = (t1 - t0) / 1000;
    const long = ((await wall.evaluate('window.__bench.longTasks')) as [number, number][])
      .filter(([start]) => start >= mark && start < end)
      .map(([, duration]) => duration);

    await sleep(SETTLE_MS);
    const rows = (await view.evaluate('window.__bench.rows')) as Record<string, number>;
    const commits = await committed(redis, site, t0, t1);
    const lags = commits.filter((c) => rows[c.key] !== undefined).map((c) => rows[c.key] - c.at);
    const perCamera = site.cameras.map((c) => (bytes.get(c) ?? 0) / window);
    return {
      tiles,
      snapshotsPerSecond: snapshots / window,
      bytesPerCameraPerSecond: percentile(perCamera, 50),
      bytesPerSecond: perCamera.reduce((a, b) => a + b, 0),
      longTasks: long.length,
      longTaskP95Ms: long.length ? percentile(long, 95) : 0,
      longTaskMaxMs: long.length ? Math.max(...long) : 0,
      tasks: tasks.length,
      taskP95Ms: tasks.length ? percentile(tasks, 95) : NaN,
      taskP99Ms: tasks.length ? percentile(tasks, 99) : NaN,
      busyShare: (busy1 - busy0) / window,
      hostBusyShare: (host1.busy - host0.busy) / (host1.total - host0.total),
      eventsCameraResultsPerSecond: stats.get(EVENTS_CAMERA) ?? NaN,
      otherResultsPerSecond: percentile(
        [...stats].filter(([c]) => c !== EVENTS_CAMERA).map(([, r]) => r),
        50,
      ),
      events: commits.length,
      missed: commits.length - lags.length,
      rowP50Ms: percentile(lags, 50),
      rowP95Ms: percentile(lags, 95),
      rowMaxMs: lags.length ? Math.max(...lags) : NaN,
    };
  } finally {
    await context.close();
  }
}

/** Each camera's detection results a second, as the gateway counts them. */
async function cameraStats(site: WallSite, token: string): Promise<Map<string, number>> {
  const res = await fetch(`${site.gatewayUrl}/v1/cameras`, { headers: { authorization: `Bearer ${token}` } });
  const { cameras } = (await res.json()) as { cameras: { id: string; stats: { resultsPerSecond: number } }[] };
  return new Map(cameras.map((c) => [c.id, c.stats.resultsPerSecond]));
}

/** Jiffies the host's cores spent, in all and busy (not idle or waiting on I/O), from /proc/stat. */
function hostCpu(): { total: number; busy: number } {
  const jiffies = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = jiffies.reduce((a, b) => a + b, 0);
  return { total, busy: total - jiffies[3] - jiffies[4] };
}

/** The events camera's timeline events committed in [t0, t1]: their row key and commit time (ms). */
async function committed(redis: Redis, site: WallSite, t0: number, t1: number) {
  const out: { key: string; at: number }[] = [];
  for (let shard = 0; shard < site.shards; shard++) {
    for (const [id, f] of await redis.xrange(`${site.prefix}:events:stream:${shard}`, String(t0), String(t1))) {
      if (f[f.indexOf('camera') + 1] !== EVENTS_CAMERA) continue;
      const event = JSON.parse(f[f.indexOf('event') + 1]) as {
        kind: string;
        rule: string;
        ts: number;
        track?: number;
      };
      // The timeline leaves out counts (the panel's counts table shows them).
      if (event.kind !== 'count') out.push({ key: rowKey(event), at: Number(id.split('-')[0]) });
    }
  }
  return out;
}

runBench(
  {
    name: 'bench:console',
    about: "The console's wall of 64 cameras in Chromium: long tasks, snapshot bandwidth, event to timeline row.",
    options,
  },
  main,
);
