import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { toWireError } from '@vision/wire';
import type { ExecutionProviderName } from '@vision/config';
import { loadBenchModel } from './bench-model';

/**
 * The baseline `npm run bench` compares against: what a one-file seed server does. Every binary
 * WebSocket message is decoded, letterboxed and inferred at batch 1, one at a time in arrival
 * order, with no queue bound, no deadline and no drops; the reply is the seed protocol's JSON array.
 * It uses the same decoding and postprocessing code; the export runs as it is (float32 in, raw
 * output back), on ORT's default threads (spinning, as a one-file server gets) unless given.
 * `node apps/bench/dist/naive-server.js <model> [port] [provider] [threads]` prints `{"port": N}` when ready.
 */
async function main(): Promise<void> {
  const [modelPath, port = '0', provider = 'cpu', threads = '0'] = process.argv.slice(2);
  const model = await loadBenchModel(modelPath, {
    executionProvider: provider as ExecutionProviderName,
    intraOpThreads: Number(threads),
    servingGraph: false,
    allowSpinning: true,
    nice: 0,
    maxBatch: 1,
    engines: 1,
  });
  const wss = new WebSocketServer({
    port: Number(port),
    host: '127.0.0.1',
    maxPayload: 64 * 1024 * 1024,
    perMessageDeflate: false,
  });
  let chain: Promise<void> = Promise.resolve();
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      chain = chain.then(async () => {
        try {
          const r = await model.infer([await model.decode(data)]);
          ws.send(JSON.stringify(r.frames[0].detections));
        } catch (err) {
          ws.send(JSON.stringify({ error: toWireError(err) }));
        }
      });
    });
  });
  await new Promise((r) => wss.once('listening', r));
  console.log(JSON.stringify({ port: (wss.address() as AddressInfo).port }));
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
