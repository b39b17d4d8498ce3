import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { applyThreadPoolSize, loadConfig, threadPoolSize } from '@vision/config';
import { repoRoot } from '@vision/testing';
import { letterbox } from '@vision/yolo';
import { loadBenchImages } from './bench-cli';
import { table } from './stats';

/**
 * `npm run bench:decode`: how many frames per second this host decodes and letterboxes (sharp on
 * libuv's pool, as the worker does), per core and in total, for camera-sized JPEGs (640×480,
 * 1280×720, 1920×1080 made from the fixture photos) and a 40-megapixel photo, at one decode in
 * flight and at as many as DECODE_CONCURRENCY allows. Sizes a GPU host's cores: at 1,000 frames/s
 * of 720p the worker needs 1,000 ÷ (720p frames/s per core) cores for decoding alone.
 */
async function main(): Promise<void> {
  const config = loadConfig({});
  // Sized as a worker sizes it, before the first decode starts the pool.
  applyThreadPoolSize(config);
  const o = new Command('bench:decode')
    .option('--seconds <n>', 'time per size and concurrency', '3')
    .option('--concurrency <list>', 'decodes in flight', `1,${config.batching.decodeConcurrency}`)
    .option('--out <file>', 'JSON results', join(repoRoot(), 'results', 'decode-bench.json'))
    .parse()
    .opts<{ seconds: string; concurrency: string; out: string }>();
  const hd = loadBenchImages(/-1280x720\.jpg$/);
  const sizes: [string, Buffer[]][] = [
    ['640×480', loadBenchImages(/-640x480\.jpg$/)],
    ['1280×720', hd],
    ['1920×1080', await Promise.all(hd.map((b) => sharp(b).resize(1920, 1080).jpeg({ quality: 85 }).toBuffer()))],
    ['7300×5400 (40 MP)', [await sharp(hd[0]).resize(7300, 5400, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer()]],
  ];
  const m = config.model;
  const opts = {
    inputWidth: 640,
    inputHeight: 640,
    maxInputPixels: m.maxInputPixels,
    costlyMaxPixels: m.costlyDecodeMaxPixels,
    timeoutS: m.decodeTimeoutS,
  };
  const cores = availableParallelism();
  console.log(
    `${cpus().length}× ${cpus()[0]?.model.trim()} (${cores} available); libuv pool ${threadPoolSize(config)} threads\n`,
  );
  const rows: (string | number)[][] = [];
  for (const [label, images] of sizes) {
    for (const c of o.concurrency.split(',').map(Number)) {
      let done = 0;
      let next = 0;
      const until = performance.now() + Number(o.seconds) * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (performance.now() < until) {
            await letterbox(images[next++ % images.length], opts);
            done++;
          }
        }),
      );
      const fps = (done * 1000) / (performance.now() - t0);
      rows.push([label, c, fps, fps / Math.min(c, cores)]);
      process.stderr.write(`${label} × ${c}: ${fps.toFixed(1)} frames/s\n`);
    }
  }
  console.log(table(['frames', 'in flight', 'frames/s', 'frames/s per core'], rows));
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ cores, rows }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
