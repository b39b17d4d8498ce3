import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { applyThreadPoolSize, loadConfig, threadPoolSize } from '@vision/config';
import { repoRoot } from '@vision/testing';
import { letterbox } from '@vision/yolo';
import { loadBenchImages } from './bench-cli';
import { opt, printTable, progress, runBench, type OptionValues } from './bench-runner';

/**
 * `npm run bench:decode`: how many frames per second this host decodes and letterboxes (sharp on
 * libuv's pool, as the worker does), per core and in total, for camera-sized JPEGs (640×480,
 * 1280×720, 1920×1080 made from the fixture photos) and a 40-megapixel photo, at one decode in
 * flight and at as many as DECODE_CONCURRENCY allows, and the CPU each frame took (every thread of
 * this process). Sizes a GPU host's cores: at 1,000 frames/s
 * of 720p the worker needs 1,000 ÷ (720p frames/s per core) cores for decoding alone.
 */
const config = loadConfig({});
const options = {
  seconds: opt.positive('time per size and concurrency', 3),
  concurrency: opt.positives('decodes in flight', `1,${config.batching.decodeConcurrency}`),
  vipsThreads: opt.positive("libvips threads per image (sharp.concurrency; the worker's: 1)", 1),
  out: opt.text('JSON results', join(repoRoot(), 'results', 'decode-bench.json'), '<file>'),
};

async function main(o: OptionValues<typeof options>): Promise<void> {
  // Sized as a worker sizes it, before the first decode starts the pool.
  applyThreadPoolSize(config);
  // After @vision/yolo's import, which sets the worker's own.
  sharp.concurrency(o.vipsThreads);
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
    for (const c of o.concurrency) {
      let done = 0;
      let next = 0;
      const until = performance.now() + o.seconds * 1000;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (performance.now() < until) {
            await letterbox(images[next++ % images.length], opts);
            done++;
          }
        }),
      );
      const fps = (done * 1000) / (performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      rows.push([label, c, fps, fps / Math.min(c, cores), (cpu.user + cpu.system) / 1000 / done]);
      progress(`${label} × ${c}: ${fps.toFixed(1)} frames/s`);
    }
  }
  printTable(['frames', 'in flight', 'frames/s', 'frames/s per core', 'CPU ms/frame'], rows);
  mkdirSync(join(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ cores, vipsThreads: o.vipsThreads, rows }, null, 2));
}

runBench(
  { name: 'bench:decode', about: 'Decode + letterbox frames/s on this host, per core and in total.', options },
  main,
);
