import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { runSize } from './batch-sizes';
import { letterboxToChw } from './chw';
import type { EngineInit, EngineReply, EngineRunRequest } from './engine-protocol';
import { Postprocessor } from './postprocess';

/**
 * The inference thread's body. onnxruntime-node's `session.run()` computes on the calling thread
 * (upstream microsoft/onnxruntime#19611), so it runs here, together with everything else per frame
 * that is not decoding: the padding and HWC→CHW conversion, the output decode and NMS. The
 * worker's event loop only decodes (on libuv's pool) and routes.
 */
const init = workerData as EngineInit;
const port = parentPort!;
const post = new Postprocessor(init.layout, init.names, init.post);
const chw = 3 * init.inputWidth * init.inputHeight;
let tensor = new Float32Array(0);

function send(m: EngineReply): void {
  port.postMessage(m);
}

/**
 * The sessions, by the run size each one serves (0: the one session of an unladdered model; 1 also
 * where one-frame runs have their own, spinning, session). On
 * ONNX Runtime's CUDA provider a run whose input shape differs from the session's previous run
 * costs 0.5–1 s (microsoft/onnxruntime#23006, measured here on an H200), so a session that only
 * ever sees one shape is the way to let batch sizes follow the load.
 */
const sessions = new Map<number, ort.InferenceSession>();

function sessionFor(size: number): ort.InferenceSession {
  return sessions.get(size) ?? sessions.get(0)!;
}

async function run(req: EngineRunRequest): Promise<EngineReply> {
  const n = req.frames.length;
  const reply: EngineReply & { type: 'result' } = { type: 'result', id: req.id, detections: [], runBatchSize: n === 0 ? 0 : runSize(n, init.batch, init.batchSizes) };
  let inferenceMs = 0;
  let postprocessMs = 0;
  for (let first = 0; first < n; ) {
    const size = runSize(n - first, init.batch, init.batchSizes);
    const take = Math.min(size, n - first);
    const input = tensorFor(size);
    req.frames.slice(first, first + take).forEach((f, i) => letterboxToChw(f.pixels, f.geometry, tensor, i * chw));
    tensor.fill(0, take * chw, size * chw); // padding slots: never read back
    const t0 = performance.now();
    const out = (await sessionFor(size).run({ [init.inputName]: input }))[init.outputName];
    const t1 = performance.now();
    const [, d1, d2] = out.dims;
    const data = out.data as Float32Array;
    for (let i = 0; i < take; i++) reply.detections!.push(post.run({ data, offset: i * d1 * d2, d1, d2 }, req.frames[first + i].geometry));
    inferenceMs += t1 - t0;
    postprocessMs += performance.now() - t1;
    first += take;
  }
  return { ...reply, inferenceMs, postprocessMs };
}

/** A [size, 3, H, W] tensor over the reused buffer, grown when a larger run comes. */
function tensorFor(size: number): ort.Tensor {
  if (tensor.length < size * chw) tensor = new Float32Array(size * chw);
  return new ort.Tensor('float32', tensor.subarray(0, size * chw), [size, 3, init.inputHeight, init.inputWidth]);
}

/**
 * Lowers this thread's scheduling priority before any session exists: Linux keeps a nice value per
 * thread and ONNX Runtime's pool threads, created with the session, inherit it. Elsewhere a no-op.
 */
function lowerPriority(nice: number): void {
  if (nice <= 0) return;
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not Linux, or not permitted: run at the process's priority
  }
}

/** Creates every session and, where asked, runs each once (zeros) at its size. */
async function open(): Promise<void> {
  lowerPriority(init.nice);
  // Runs of one frame get their own session where they exist as such: always with exact sizes, and
  // where the sizes include 1.
  const sizes = init.batchSizes.length ? init.batchSizes : init.singleFrameSession ? [1, 0] : [0];
  for (const size of sizes) {
    const options = size === 1 && init.singleFrameSession ? init.singleFrameSession : init.session;
    const session = await ort.InferenceSession.create(new Uint8Array(init.model), options);
    sessions.set(size, session);
    const warm = size || (typeof init.batch === 'number' ? init.batch : 0);
    if (!init.warmup || !warm) continue;
    const input = tensorFor(warm);
    tensor.fill(0, 0, warm * chw);
    try {
      await session.run({ [init.inputName]: input });
    } catch (err) {
      throw new Error(`warm-up run failed: ${String((err as Error)?.message ?? err)}`);
    }
  }
}

open().then(
  () => {
    send({ type: 'ready' });
    port.on('message', async (m: EngineRunRequest | { type: 'close' }) => {
      if (m.type === 'close') {
        await Promise.all([...sessions.values()].map((s) => s.release()));
        send({ type: 'closed' });
        return;
      }
      try {
        send(await run(m));
      } catch (err) {
        send({ type: 'result', id: m.id, error: String((err as Error)?.message ?? err) });
      }
    });
  },
  async (err: unknown) => {
    await Promise.all([...sessions.values()].map((s) => s.release()));
    send({ type: 'error', message: String((err as Error)?.message ?? err) });
  },
);
