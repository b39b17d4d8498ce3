import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';

/**
 * onnxruntime-node's `session.run()` returns a promise but runs synchronously on the calling
 * thread (upstream microsoft/onnxruntime#19611): on the main thread it would freeze sockets, timers
 * and Redis I/O for the whole inference. So the session lives in a worker thread; the main thread
 * keeps decoding, batching and answering while it runs. Input buffers are transferred there and
 * back (no copy); outputs come back by structured clone.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.InferenceSession.create(new Uint8Array(workerData.model), workerData.options).then(
  (session) => {
    parentPort.postMessage({ type: 'ready' });
    parentPort.on('message', async (m) => {
      if (m.type === 'close') {
        await session.release();
        parentPort.postMessage({ type: 'closed' });
        return;
      }
      try {
        const input = new ort.Tensor('float32', new Float32Array(m.buffer, m.byteOffset, m.length), m.dims);
        const out = (await session.run({ [m.inputName]: input }))[m.outputName];
        parentPort.postMessage({ type: 'result', id: m.id, data: out.data, dims: out.dims, buffer: m.buffer }, [m.buffer]);
      } catch (err) {
        parentPort.postMessage({ type: 'result', id: m.id, error: String((err && err.message) || err), buffer: m.buffer }, [m.buffer]);
      }
    });
  },
  (err) => parentPort.postMessage({ type: 'error', message: String((err && err.message) || err) }),
);
`;

interface Reply {
  type: 'ready' | 'error' | 'result' | 'closed';
  id?: number;
  data?: Float32Array;
  dims?: number[];
  buffer?: ArrayBuffer;
  error?: string;
  message?: string;
}

export interface ThreadRunResult {
  data: Float32Array;
  dims: readonly number[];
  /** The input's buffer, handed back for reuse. */
  buffer: ArrayBuffer;
}

export class InferenceThread {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(r: ThreadRunResult): void; reject(e: Error): void }>();
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      if (m.type !== 'result' || m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (m.error) p.reject(new Error(m.error));
      else p.resolve({ data: m.data!, dims: m.dims!, buffer: m.buffer! });
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`inference thread exited (${code})`)));
  }

  /** Starts a thread and creates the session there; rejects with ORT's message if it cannot. */
  static start(model: Uint8Array, options: InferenceSession.SessionOptions): Promise<InferenceThread> {
    const copy = new Uint8Array(model).buffer;
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { ortPath: require.resolve('onnxruntime-node'), model: copy, options },
      transferList: [copy],
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.type === 'ready') {
          worker.off('message', onMessage);
          worker.unref(); // an idle inference thread must not keep the process alive
          resolve(new InferenceThread(worker));
        } else if (m.type === 'error') {
          worker.off('message', onMessage);
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  /** Runs one batch. `input` is a view into a buffer that is transferred away until this resolves. */
  run(inputName: string, outputName: string, input: Float32Array, dims: number[]): Promise<ThreadRunResult> {
    const id = ++this.seq;
    this.worker.ref(); // pending work keeps the process alive
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(
        { type: 'run', id, inputName, outputName, buffer: input.buffer, byteOffset: input.byteOffset, length: input.length, dims },
        [input.buffer as ArrayBuffer],
      );
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.ref(); // keep the process alive until the session is released
      const done = () => resolve();
      this.worker.once('exit', done);
      this.worker.on('message', (m: Reply) => {
        if (m.type === 'closed') void this.worker.terminate();
      });
      this.worker.postMessage({ type: 'close' });
      setTimeout(() => void this.worker.terminate(), 2000).unref();
    });
    return this.closing;
  }
}
