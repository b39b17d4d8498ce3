import { Command } from 'commander';
import Redis from 'ioredis';
import {
  LoadClient,
  signTestToken,
  startStateSite,
  STATE_SITE_CAMERAS,
  STATE_SITE_CLIP_FRAME_MS,
  stateSiteClip,
  type StateSite,
} from '@vision/testing';
import { percentile, table } from './stats';

interface RunResult {
  aofBytesPerFrame: number;
  aofBytesPerEvent: number;
  /** The longest pause between two results of any camera, from the kill to a second after the restart. */
  resultPauseMs: number;
  /** From the restarted state Redis answering to the first event committed on it. */
  restartToEventMs: number;
  framesAnsweredWithError: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run bench:state`: the state site of the restart test (libs/testing `startStateSite`: a frame
 * Redis without persistence, a state Redis with the shipped append-only file, an events service, a
 * worker and an edge as processes) with four cameras streaming. Per run: the state Redis's append-only
 * bytes per camera frame (nothing in view) and per event (objects crossing), then SIGKILL of the state
 * Redis, `--down-ms` without it and a restart on its data: the longest pause in results meanwhile and
 * the time from the restart to the first event committed again.
 */
async function main(): Promise<void> {
  const o = new Command('bench:state')
    .option('--runs <n>', 'runs; medians and ranges are printed', '3')
    .option('--quiet-s <n>', 'seconds of frames with nothing in view', '5')
    .option('--busy-s <n>', 'seconds of frames with objects crossing', '8')
    .option('--down-ms <n>', 'how long the state Redis stays down', '1000')
    .parse()
    .opts<{ runs: string; quietS: string; busyS: string; downMs: string }>();
  const results: RunResult[] = [];
  for (let i = 0; i < Number(o.runs); i++) {
    const site = await startStateSite('state-bench');
    try {
      const r = await run(site, { quietS: Number(o.quietS), busyS: Number(o.busyS), downMs: Number(o.downMs) });
      results.push(r);
      console.log(`run ${i + 1}: ${JSON.stringify(r)}`);
    } finally {
      await site.stop();
    }
  }
  const keys = Object.keys(results[0]) as (keyof RunResult)[];
  const stat = (k: keyof RunResult, p: number) =>
    percentile(
      results.map((r) => r[k]),
      p,
    );
  console.log(`\nbench:state, ${STATE_SITE_CAMERAS.length} cameras, ${results.length} run(s): median (min..max)`);
  console.log(
    table(
      ['measure', 'median', 'min', 'max'],
      keys.map((k) => [k, stat(k, 50), stat(k, 0), stat(k, 100)]),
    ),
  );
}

async function run(site: StateSite, o: { quietS: number; busyS: number; downMs: number }): Promise<RunResult> {
  const pictures = await stateSiteClip();
  const headers = { authorization: `Bearer ${await signTestToken({ sub: 'bench' })}` };
  const stream = (images?: Buffer[]) =>
    STATE_SITE_CAMERAS.map((streamId) => {
      const pace = images ? { intervalMs: STATE_SITE_CLIP_FRAME_MS, maxInFlight: 1 } : { intervalMs: 60 };
      const c = new LoadClient({ urls: [site.detectUrl], streamId, headers, image: pictures.empty, images, ...pace });
      c.start();
      return c;
    });
  const answered = (cs: LoadClient[]) => cs.reduce((n, c) => n + c.log.length, 0);
  const events = async () => {
    const r = new Redis(site.state.url);
    try {
      const ids: string[] = [];
      for (let s = 0; s < 2; s++)
        ids.push(...(await r.xrange(`${site.prefix}:events:stream:${s}`, '-', '+')).map(([id]) => id));
      return ids;
    } finally {
      r.disconnect();
    }
  };

  const quiet = stream();
  await sleep(1000);
  const [aof0, frames0] = [site.state.aofBytes(), answered(quiet)];
  await sleep(o.quietS * 1000);
  const [aof1, frames1] = [site.state.aofBytes(), answered(quiet)];
  await Promise.all(quiet.map((c) => c.stop(5000)));

  const busy = stream(pictures.clip);
  const aof2 = site.state.aofBytes();
  const events0 = (await events()).length;
  await sleep(o.busyS * 1000);
  const [aof3, events1] = [site.state.aofBytes(), (await events()).length];

  const killedAt = Date.now();
  await site.state.kill();
  await sleep(o.downMs);
  await site.state.start();
  const upAt = Date.now();
  let firstEvent: number | undefined;
  while (firstEvent === undefined && Date.now() - upAt < 30_000) {
    firstEvent = (await events()).map((id) => Number(id.split('-')[0])).find((t) => t >= upAt);
    if (firstEvent === undefined) await sleep(50);
  }
  await sleep(1000);
  const books = await Promise.all(busy.map((c) => c.stop(5000)));
  const pauses = books.map((b) => {
    const at = b.replies.map((r) => r.at).filter((t) => t >= killedAt - 1000 && t <= upAt + 1000);
    return Math.max(0, ...at.slice(1).map((t, i) => t - at[i]));
  });
  return {
    aofBytesPerFrame: round((aof1 - aof0) / (frames1 - frames0)),
    aofBytesPerEvent: round((aof3 - aof2) / Math.max(1, events1 - events0)),
    resultPauseMs: Math.max(...pauses),
    restartToEventMs: firstEvent === undefined ? NaN : firstEvent - upAt,
    framesAnsweredWithError: books.reduce((n, b) => n + b.replies.filter((r) => r.outcome !== 'result').length, 0),
  };
}

const round = (n: number) => Math.round(n * 10) / 10;

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
