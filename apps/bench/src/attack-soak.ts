import { setTimeout as sleep } from 'node:timers/promises';
import { DETECT_PATH } from '@vision/wire';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  imageFixturesDir,
  LoadClient,
  modelsDir,
  repoRoot,
  rssMb,
  startAbuseProcess,
  startService,
  type AttackKind,
} from '@vision/testing';
import { scrapeTotal } from './worker-metrics';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

const MIXED: AttackKind[] = [
  'frame-flood',
  'decode-heavy',
  'message-flood',
  'unfinished-fragments',
  'big-text',
  'tiny-frames',
  'costly-frames',
];

const options = {
  minutes: opt.positive('total duration', 20),
  attackS: opt.positive('attack phase per cycle', 60),
  quietS: opt.positive('quiet phase per cycle', 60),
  connections: opt.whole('connections per attack class', 4, 1),
  boundMb: opt.positive('allowed RSS growth after the first cycle', 64),
  env: opt.settings('extra server settings, KEY=VALUE,… (e.g. MALLOC_ARENA_MAX=2)', ''),
  out: opt.text('JSON samples', join(repoRoot(), 'results', 'attack-soak.json'), '<file>'),
};

/**
 * `npm run soak:attack -- --minutes 20`: the embedded server (`npm start`) through cycles of an
 * attack phase (every attack class at once, beside a camera) and a quiet phase (the camera alone).
 * At the end of each quiet phase it records RSS, the JS heap and external memory. Memory that
 * returns to the same level cycle after cycle is the allocator keeping pages for reuse; a level
 * that keeps rising is a leak. Exits non-zero if RSS after any later cycle exceeds RSS after the
 * first by more than `--bound-mb`. Not part of `npm test`.
 */
async function main(o: OptionValues<typeof options>): Promise<number> {
  const server = await startService('server', {
    LOG_LEVEL: 'info',
    MODEL_PATH: join(modelsDir(), 'colors-v8-dyn.onnx'),
    ...o.env,
  });
  const url = `ws://127.0.0.1:${server.port}${DETECT_PATH}`;
  const photoPath = join(imageFixturesDir(), 'coffee-1280x720.jpg');
  const camera = new LoadClient({ urls: [url], image: readFileSync(photoPath), intervalMs: 200, streamId: 'gate' });
  camera.start();
  const cycleMs = (o.attackS + o.quietS) * 1000;
  const cycles = Math.max(2, Math.floor((o.minutes * 60_000) / cycleMs));
  const samples: Record<string, number>[] = [];
  console.log(`soak:attack: ${cycles} cycles of ${o.attackS} s attack + ${o.quietS} s quiet`);
  try {
    await sleep(5000);
    samples.push(await sample(server.metricsPort, server.proc.pid!, 0, 0));
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const abuse = await startAbuseProcess({
        url,
        photoPath,
        connections: o.connections,
        kinds: MIXED,
        spoofAddresses: false,
      });
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(server.proc.pid!))), 500);
      await sleep(o.attackS * 1000);
      clearInterval(sampler);
      await abuse.stop();
      await sleep(o.quietS * 1000);
      const s = await sample(server.metricsPort, server.proc.pid!, cycle, peak);
      samples.push(s);
      progress(
        Object.entries(s)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      );
      if (server.proc.exitCode !== null) throw new Error(`the server exited (${server.proc.exitCode})`);
    }
  } finally {
    await camera.stop(2000);
    await server.kill('SIGTERM');
  }
  const first = samples[1].rss_mb;
  const worst = Math.max(...samples.slice(2).map((s) => s.rss_mb));
  printTable(
    Object.keys(samples[0]),
    samples.map((s) => Object.values(s)),
  );
  console.log(
    `\nRSS after the first cycle ${first} MB; highest after a later cycle ${worst} MB ` +
      `(+${worst - first} MB; bound ${o.boundMb} MB)`,
  );
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ options: o, samples, growthMb: worst - first }, null, 2));
  return worst - first > o.boundMb ? 1 : 0;
}

async function sample(
  metricsPort: number,
  pid: number,
  cycle: number,
  attackPeakMb: number,
): Promise<Record<string, number>> {
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const mb = async (name: string) => Math.round((await scrapeTotal(url, name)) / 2 ** 20);
  return {
    cycle,
    rss_mb: Math.round(rssMb(pid)),
    attack_peak_rss_mb: Math.round(attackPeakMb),
    heap_used_mb: await mb('nodejs_heap_size_used_bytes'),
    external_mb: await mb('nodejs_external_memory_bytes'),
  };
}

runBench({ name: 'soak:attack', about: 'The embedded server through cycles of attack and quiet.', options }, main);
