import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { hwcToChw } from './chw';
import type { EngineInit, EngineReply, EngineRunRequest } from './engine-protocol';
import { Postprocessor } from './postprocess';

/**
 * The inference thread's body. onnxruntime-node's `session.run()` computes on the calling thread
 * (upstream microsoft/onnxruntime#19611), so it runs here, together with everything else per frame
 * that is not decoding: HWC→CHW conversion, the output decode and NMS. The worker's event loop
 * only decodes (on libuv's pool) and routes.
 */
const init = workerData as EngineInit;
const port = parentPort!;
const post = new Postprocessor(init.layout, init.names, init.post);
const chw = 3 * init.inputWidth * init.inputHeight;
let tensor = new Float32Array(0);

function send(m: EngineReply): void {
  port.postMessage(m);
}

async function run(session: ort.InferenceSession, req: EngineRunRequest): Promise<EngineReply> {
  const n = req.frames.length;
  const group = typeof init.batch === 'number' ? init.batch : Math.max(n, 1);
  const slots = Math.ceil(n / group) * group;
  // Reused across runs; padding slots of static batches stay zero (never read back).
  if (tensor.length < slots * chw) tensor = new Float32Array(slots * chw);
  else tensor.fill(0, n * chw, slots * chw);
  req.frames.forEach((f, i) => hwcToChw(f.pixels, tensor, i * chw, init.inputWidth * init.inputHeight));
  const detections: EngineReply & { type: 'result' } = { type: 'result', id: req.id, detections: [], runBatchSize: n === 0 ? 0 : group };
  let inferenceMs = 0;
  let postprocessMs = 0;
  for (let first = 0; first < n; first += group) {
    const input = new ort.Tensor('float32', tensor.subarray(first * chw, (first + group) * chw), [group, 3, init.inputHeight, init.inputWidth]);
    const t0 = performance.now();
    const out = (await session.run({ [init.inputName]: input }))[init.outputName];
    const t1 = performance.now();
    const [, d1, d2] = out.dims;
    const data = out.data as Float32Array;
    for (let i = first; i < Math.min(n, first + group); i++) {
      detections.detections!.push(post.run({ data, offset: (i - first) * d1 * d2, d1, d2 }, req.frames[i].geometry));
    }
    inferenceMs += t1 - t0;
    postprocessMs += performance.now() - t1;
  }
  return { ...detections, inferenceMs, postprocessMs };
}

ort.InferenceSession.create(new Uint8Array(init.model), init.session).then(
  (session) => {
    send({ type: 'ready' });
    port.on('message', async (m: EngineRunRequest | { type: 'close' }) => {
      if (m.type === 'close') {
        await session.release();
        send({ type: 'closed' });
        return;
      }
      try {
        send(await run(session, m));
      } catch (err) {
        send({ type: 'result', id: m.id, error: String((err as Error)?.message ?? err) });
      }
    });
  },
  (err: unknown) => send({ type: 'error', message: String((err as Error)?.message ?? err) }),
);
