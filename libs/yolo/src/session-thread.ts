import { readlinkSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { runSize } from './batch-sizes';
import { FrameArena, nhwcToChw } from './frame-arena';
import type {
  SessionRunRequest,
  SessionRunResult,
  SessionThreadInit,
  SessionThreadReply,
} from './session-thread-protocol';
import { modelTask } from './tasks/registry';

/**
 * A session thread's body. onnxruntime-node's `session.run()` computes on the calling thread
 * (upstream microsoft/onnxruntime#19611), so it runs here, together with the per-frame work that is
 * not decoding: the float conversion of exports served as they are, and the output decode and NMS.
 * Frames arrive in shared memory (FrameArena), written by the worker's event loop.
 */
const init = workerData as SessionThreadInit;
const port = parentPort!;
const post = modelTask(init.task).postprocessor(init.output, init.names, init.post);
const plane = init.inputWidth * init.inputHeight;
let floats = new Float32Array(0);

function send(m: SessionThreadReply): void {
  port.postMessage(m);
}

/**
 * The sessions, by the run size each one serves (0: the one session of an unladdered model). On
 * ONNX Runtime's CUDA provider a run whose input shape differs from the session's previous run costs
 * 0.5–1 s (microsoft/onnxruntime#23006), so a session that only ever sees one shape is the way to
 * let batch sizes follow the load.
 */
const sessions = new Map<number, ort.InferenceSession>();

function sessionFor(size: number): ort.InferenceSession {
  return sessions.get(size) ?? sessions.get(0)!;
}

/** A [size, …] input over arena slots first … first + size - 1 (padding slots hold whatever they held). */
function inputFor(arena: FrameArena, first: number, size: number): { tensor: ort.Tensor; bytes: number } {
  const pixels = arena.view(first, size);
  if (init.input === 'uint8')
    return {
      tensor: new ort.Tensor('uint8', pixels, [size, init.inputHeight, init.inputWidth, 3]),
      bytes: pixels.byteLength,
    };
  if (floats.length < size * 3 * plane) floats = new Float32Array(size * 3 * plane);
  nhwcToChw(pixels, size, plane, floats);
  const data = floats.subarray(0, size * 3 * plane);
  return {
    tensor: new ort.Tensor('float32', data, [size, 3, init.inputHeight, init.inputWidth]),
    bytes: data.byteLength,
  };
}

async function run(req: SessionRunRequest): Promise<SessionRunResult> {
  const arena = new FrameArena(req.arena, init.inputWidth, init.inputHeight);
  const n = req.geometries.length;
  const result: SessionRunResult = {
    frames: [],
    runBatchSize: n === 0 ? 0 : runSize(n, init.batch, init.batchSizes),
    inferenceMs: 0,
    postprocessMs: 0,
    inputMs: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  for (let first = 0; first < n;) {
    const size = runSize(n - first, init.batch, init.batchSizes);
    const take = Math.min(size, n - first);
    const t0 = performance.now();
    const { tensor, bytes } = inputFor(arena, first, size);
    const t1 = performance.now();
    const out = (await sessionFor(size).run({ [init.inputName]: tensor }))[init.outputName];
    const t2 = performance.now();
    // [N, d1, d2] (detection) or [N, d1] (a classifier's probabilities): one image is d1 × d2 values.
    const [, d1, d2 = 1] = out.dims;
    const data = out.data as Float32Array;
    for (let i = 0; i < take; i++)
      result.frames.push(post.run({ data, offset: i * d1 * d2, d1, d2 }, req.geometries[first + i]));
    result.inputMs += t1 - t0;
    result.inferenceMs += t2 - t1;
    result.postprocessMs += performance.now() - t2;
    result.bytesIn += bytes;
    result.bytesOut += data.byteLength;
    first += take;
  }
  return result;
}

/**
 * Names this thread and lowers its scheduling priority before any session exists: Linux keeps a name
 * and a nice value per thread, and ONNX Runtime's pool threads, created with the session, inherit
 * both. Elsewhere a no-op.
 */
function markThread(name: string, nice: number): void {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return; // not Linux
  }
  for (const mark of [
    () => writeFileSync(`/proc/self/task/${tid}/comm`, `ort-${name}`.slice(0, 15)),
    () => nice > 0 && setPriority(tid, nice),
  ]) {
    try {
      mark();
    } catch {
      // not permitted: the process's name, or its priority
    }
  }
}

/**
 * Creates every session and runs each once (zeros) at its size before the thread reports ready:
 * kernel selection on a GPU, arena growth on the CPU. A worker is ready only once this is done,
 * so its first frames do not pay for it. Returns how many sessions were warmed.
 */
async function open(): Promise<number> {
  markThread(init.name, init.nice);
  const sizes = init.batchSizes.length ? init.batchSizes : [0];
  for (const size of sizes) {
    const session = await ort.InferenceSession.create(new Uint8Array(init.model), init.session);
    sessions.set(size, session);
    const warm = size || (typeof init.batch === 'number' ? init.batch : 1);
    try {
      await session.run({
        [init.inputName]: inputFor(FrameArena.create(init.inputWidth, init.inputHeight, warm), 0, warm).tensor,
      });
    } catch (err) {
      throw new Error(`warm-up run failed: ${String((err as Error)?.message ?? err)}`);
    }
  }
  return sessions.size;
}

open().then(
  (warmedSessions) => {
    send({ type: 'ready', warmedSessions });
    port.on('message', async (m: SessionRunRequest | { type: 'close' }) => {
      if (m.type === 'close') {
        await Promise.all([...sessions.values()].map((s) => s.release()));
        send({ type: 'closed' });
        return;
      }
      let reply: SessionThreadReply;
      try {
        reply = { type: 'result', id: m.id, arena: m.arena, ...(await run(m)) };
      } catch (err) {
        reply = { type: 'result', id: m.id, arena: m.arena, error: String((err as Error)?.message ?? err) };
      }
      port.postMessage(reply, [m.arena]);
    });
  },
  async (err: unknown) => {
    await Promise.all([...sessions.values()].map((s) => s.release()));
    send({ type: 'error', message: String((err as Error)?.message ?? err) });
  },
);
