import { DETECT_PATH } from '@vision/wire';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
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
import { percentile, table } from './stats';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const results = (log: readonly Reply[], from: number, to: number) =>
  log.filter((r) => r.outcome === 'result' && r.sentAt >= from && r.sentAt < to);

/**
 * `npm run bench:attack [-- --runs 3 --seconds 8]`: each attack class from `@vision/testing`'s
 * Abuse, in its own process, against a fresh edge + worker on Redis with a well-behaved camera
 * alongside. Per attack and run: did both processes survive, their RSS growth, and the camera's
 * result rate and p95 latency relative to the same camera alone just before. Not part of npm test.
 */
async function main(): Promise<void> {
  const o = new Command('bench:attack')
    .option('--runs <n>', 'runs per attack (medians and spread are reported)', '3')
    .option('--seconds <n>', 'measurement window, alone and under attack', '8')
    .option('--connections <n>', 'abusive connections per attack', '16')
    .option('--attacks <list>', 'comma-separated attack classes', ATTACKS.join(','))
    .option('--edge-env <list>', 'extra edge settings, KEY=VALUE,… (e.g. per-subject quotas)', '')
    .option('--worker-env <list>', "worker settings, KEY=VALUE,… ('' for the defaults)", 'INTRA_OP_THREADS=1')
    .option('--out <dir>', 'results directory', join(repoRoot(), 'results'))
    .parse()
    .opts<{
      runs: string;
      seconds: string;
      connections: string;
      attacks: string;
      edgeEnv: string;
      workerEnv: string;
      out: string;
    }>();
  const envOf = (list: string) =>
    Object.fromEntries(
      list
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('=') as [string, string]),
    );
  const edgeEnv = envOf(o.edgeEnv);
  const workerEnv = envOf(o.workerEnv);
  const photoPath = join(imageFixturesDir(), 'coffee-1280x720.jpg');
  const windowMs = Number(o.seconds) * 1000;
  const rows: AttackRow[] = [];
  for (const attack of o.attacks.split(',') as AttackKind[]) {
    for (let run = 1; run <= Number(o.runs); run++) {
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
          connections: Number(o.connections),
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
        console.error(JSON.stringify(rows[rows.length - 1]));
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
  console.log(table(headers, body));
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'attack.json'), JSON.stringify({ edgeEnv, rows, summary }, null, 2));
  const md = [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  writeFileSync(join(o.out, 'attack.md'), md + '\n');
  console.log(`\nmedians (min–max over runs); written to ${join(o.out, 'attack.{json,md}')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
