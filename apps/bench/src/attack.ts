import { setTimeout as sleep } from 'node:timers/promises';
import { DETECT_PATH } from '@vision/wire';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ATTACKS,
  imageFixturesDir,
  LoadClient,
  modelsDir,
  repoRoot,
  rssPeaks,
  signTestToken,
  startAbuseProcess,
  startService,
  startTestRedis,
  TEST_JWT_SECRET,
  uniquePrefix,
  type AttackKind,
  type Reply,
  type ServiceProcess,
} from '@vision/testing';
import { percentile } from './stats';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

interface AttackRow {
  attack: AttackKind;
  run: number;
  survived: boolean;
  edgeRssDeltaMb: number;
  workerRssDeltaMb: number;
  /** Camera results/s under attack ÷ alone. */
  resultRate: number;
  /** Camera p95 latency under attack ÷ alone. */
  p95Ratio: number;
  abuserClosedByServer: number;
  abuserRefused: number;
}

const options = {
  runs: opt.whole('runs per attack (medians and spread are reported)', 3, 1),
  seconds: opt.positive('measurement window, alone and under attack', 8),
  connections: opt.whole('abusive connections per attack', 16, 1),
  attacks: opt.list('attack classes', ATTACKS, ATTACKS.join(',')),
  edgeEnv: opt.settings('extra edge settings, KEY=VALUE,… (e.g. per-subject quotas)', ''),
  workerEnv: opt.settings("worker settings, KEY=VALUE,… ('' for the defaults)", 'INTRA_OP_THREADS=1'),
  out: opt.text('results directory', join(repoRoot(), 'results'), '<dir>'),
};

const results = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to);

/**
 * `npm run bench:attack [-- --runs 3 --seconds 8]`: each attack class from `@vision/testing`'s
 * Abuse, in its own process, against a fresh edge + worker on Redis with a well-behaved camera
 * alongside. Per attack and run: did both processes survive, their RSS growth, and the camera's
 * result rate and p95 latency relative to the same camera alone just before. Not part of npm test.
 */
async function main(o: OptionValues<typeof options>): Promise<number> {
  const { edgeEnv, workerEnv } = o;
  const photoPath = join(imageFixturesDir(), 'coffee-1280x720.jpg');
  const windowMs = o.seconds * 1000;
  const rows: AttackRow[] = [];
  for (const attack of o.attacks) {
    for (let run = 1; run <= o.runs; run++) {
      const redis = await startTestRedis({ own: true });
      const common = {
        REDIS_URL: redis.url,
        REDIS_PREFIX: uniquePrefix('attack'),
        LOG_LEVEL: 'warn',
        MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
      };
      const procs: ServiceProcess[] = [];
      try {
        procs.push(await startService('worker', { ...common, LOG_LEVEL: 'info', ...workerEnv }));
        const edge = await startService('edge', {
          ...common,
          LOG_LEVEL: 'info',
          AUTH_DISABLED: '',
          JWT_SECRET: TEST_JWT_SECRET,
          TRUSTED_PROXIES: '127.0.0.1',
          ...edgeEnv,
        });
        procs.push(edge);
        const url = `ws://127.0.0.1:${edge.port}${DETECT_PATH}`;
        const camera = new LoadClient({
          urls: [url],
          image: readFileSync(photoPath),
          intervalMs: 200,
          streamId: 'gate',
          headers: { authorization: `Bearer ${await signTestToken({ sub: 'camera' })}` },
        });
        camera.start();
        await sleep(1000);
        const aloneFrom = Date.now();
        await sleep(windowMs);
        const aloneTo = Date.now();
        const before = rssPeaks({ edge: edge.proc.pid!, worker: procs[0].proc.pid! }).stop();
        const peaks = rssPeaks({ edge: edge.proc.pid!, worker: procs[0].proc.pid! });
        const abuse = await startAbuseProcess({
          url,
          photoPath,
          kinds: [attack],
          connections: o.connections,
          token: await signTestToken({ sub: 'attacker' }),
          spoofAddresses: attack !== 'connection-flood',
        });
        await sleep(1000);
        const underFrom = Date.now();
        await sleep(windowMs);
        const underTo = Date.now();
        const abuser = await abuse.stop();
        const peak = peaks.stop();
        const books = await camera.stop(3000);
        const healthy = await fetch(`http://127.0.0.1:${edge.port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        const alone = results(books.replies, aloneFrom, aloneTo);
        const under = results(books.replies, underFrom, underTo);
        const p95 = (rs: Reply[]) =>
          percentile(
            rs.map((r) => r.at - r.sentAt),
            95,
          );
        rows.push({
          attack,
          run,
          survived: healthy && procs.every((p) => p.proc.exitCode === null && p.proc.signalCode === null),
          edgeRssDeltaMb: peak['edge'] - before['edge'],
          workerRssDeltaMb: peak['worker'] - before['worker'],
          resultRate: under.length / Math.max(1, alone.length),
          p95Ratio: p95(under) / p95(alone),
          abuserClosedByServer: abuser.closedByServer,
          abuserRefused: abuser.refusedUpgrades,
        });
        progress(JSON.stringify(rows[rows.length - 1]));
      } finally {
        await Promise.all(procs.map((p) => p.kill('SIGKILL')));
        await redis.stop();
      }
    }
  }
  const med = (xs: number[]) => percentile(xs, 50);
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const summary = [...new Set(rows.map((r) => r.attack))].map((attack) => {
    const rs = rows.filter((r) => r.attack === attack);
    const col = (f: (r: AttackRow) => number) => rs.map(f);
    return {
      attack,
      runs: rs.length,
      survived: `${rs.filter((r) => r.survived).length}/${rs.length}`,
      edgeRss: `${med(col((r) => r.edgeRssDeltaMb)).toFixed(0)} (${spread(col((r) => r.edgeRssDeltaMb))})`,
      workerRss: `${med(col((r) => r.workerRssDeltaMb)).toFixed(0)} (${spread(col((r) => r.workerRssDeltaMb))})`,
      resultRate: `${med(col((r) => r.resultRate)).toFixed(2)} (${spread(col((r) => r.resultRate))})`,
      p95Ratio: `${med(col((r) => r.p95Ratio)).toFixed(2)} (${spread(col((r) => r.p95Ratio))})`,
      cutOff: med(col((r) => r.abuserClosedByServer + r.abuserRefused)),
    };
  });
  const headers = [
    'attack',
    'runs',
    'survived',
    'edge RSS Δ MB',
    'worker RSS Δ MB',
    'camera results vs alone',
    'camera p95 vs alone',
    'abuser cut off (median)',
  ];
  const body = summary.map((s) => [
    s.attack,
    s.runs,
    s.survived,
    s.edgeRss,
    s.workerRss,
    s.resultRate,
    s.p95Ratio,
    s.cutOff,
  ]);
  printTable(headers, body);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'attack.json'), JSON.stringify({ edgeEnv, rows, summary }, null, 2));
  const md = [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  writeFileSync(join(o.out, 'attack.md'), md + '\n');
  console.log(`\nmedians (min–max over runs); written to ${join(o.out, 'attack.{json,md}')}`);
  // Exits at once: abuse processes' sockets may still be closing.
  return 0;
}

runBench(
  { name: 'bench:attack', about: 'Each attack class against an edge + worker, beside a camera.', options },
  main,
);
