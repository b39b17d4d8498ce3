import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Detection } from '@vision/wire';
import type { EngineInit, EngineReply, EngineRunRequest } from './engine-protocol';

export interface EngineRunResult {
  detections: Detection[][];
  runBatchSize: number;
  inferenceMs: number;
  postprocessMs: number;
}

/** The compiled thread body; tests run the sources, so they use the build next to them. */
const THREAD_FILE = __filename.endsWith('.ts') ? join(__dirname, '..', 'dist', 'engine-thread.js') : join(__dirname, 'engine-thread.js');

/**
 * One ONNX Runtime session in its own thread (`engine-thread.ts`). Pixels go there by structured
 * clone; detections come back.
 */
export class InferenceThread {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(r: EngineRunResult): void; reject(e: Error): void }>();
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: EngineReply) => {
      if (m.type !== 'result') return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve({ detections: m.detections!, runBatchSize: m.runBatchSize!, inferenceMs: m.inferenceMs!, postprocessMs: m.postprocessMs! });
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`inference thread exited (${code})`)));
  }

  /** Starts a thread and creates the session there; rejects with ORT's message if it cannot. */
  static start(init: EngineInit): Promise<InferenceThread> {
    const worker = new Worker(THREAD_FILE, { workerData: init, transferList: [init.model] });
    return new Promise((resolve, reject) => {
      const onMessage = (m: EngineReply) => {
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

  get busy(): boolean {
    return this.pending.size > 0;
  }

  run(frames: EngineRunRequest['frames']): Promise<EngineRunResult> {
    const id = ++this.seq;
    this.worker.ref(); // pending work keeps the process alive
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, frames } satisfies EngineRunRequest);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.ref(); // keep the process alive until the session is released
      this.worker.once('exit', () => resolve());
      this.worker.on('message', (m: EngineReply) => {
        if (m.type === 'closed') void this.worker.terminate();
      });
      this.worker.postMessage({ type: 'close' });
      setTimeout(() => void this.worker.terminate(), 2000).unref();
    });
    return this.closing;
  }
}
