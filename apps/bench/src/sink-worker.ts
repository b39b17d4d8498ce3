import { loadConfig } from '@vision/config';
import { RedisWorkerTransport, workerStreamOptions } from '@vision/transport';

/**
 * `node sink-worker.js <redis url> <prefix>`: a consumer that answers every frame at once with no
 * detections (no decode, no inference), so a benchmark measures what an edge and Redis can carry.
 */
async function main(): Promise<void> {
  const [url, prefix] = process.argv.slice(2);
  const t = new RedisWorkerTransport({ target: url, prefix, model: 'default', ...workerStreamOptions(loadConfig({})) });
  await t.start(`sink-${process.pid}`);
  console.log(JSON.stringify({ started: true }));
  let running = true;
  process.on('SIGTERM', () => (running = false));
  while (running) {
    const got = await t.read(256, 100);
    if (got.length) {
      await t.complete(
        got.map((d) => ({
          delivery: d,
          outcome: {
            key: d.job.key,
            connId: d.job.connId,
            ok: true as const,
            detections: [],
            model: 'sink',
            modelVersion: '1',
            batchSize: got.length,
            pickedAt: d.pickedAt,
            preprocessMs: 0,
            inferenceMs: 0,
          },
        })),
      );
    }
  }
  await t.close();
  process.exit(0);
}

void main();
