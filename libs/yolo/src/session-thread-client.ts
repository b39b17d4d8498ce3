import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FrameArena } from './frame-arena';
import type { LetterboxGeometry } from './letterbox';
import type {
  SessionRunRequest,
  SessionRunResult,
  SessionThreadInit,
  SessionThreadReply,
} from './session-thread-protocol';

/** The compiled thread body; tests run the sources, so they use the build next to them. */
const THREAD_FILE = __filename.endsWith('.ts')
  ? join(__dirname, '..', 'dist', 'session-thread.js')
  : join(__dirname, 'session-thread.js');

/** A frame for a run: its content pixels (RGB, resized) and where they go in the model input. */
export interface RunFrame {
  pixels: Uint8Array;
  geometry: LetterboxGeometry;
}

/**
 * The worker's handle on one session thread (`session-thread.ts`). A run writes its frames into the
 * thread's shared arena, then sends only their geometry; detections come back. One run at a time
 * per thread: the arena holds one run's frames, so a second run waits for the first to finish.
 */
export class SessionThread {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(r: SessionRunResult): void; reject(e: Error): void }>();
  private closing: Promise<void> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  private constructor(
    private readonly worker: Worker,
    /** Ours between runs; the thread's during one. */
    private arena: FrameArena,
    /** Sessions run once before the thread reported ready. */
    readonly warmedSessions: number,
  ) {
    worker.on('message', (m: SessionThreadReply) => {
      if (m.type !== 'result') return;
      this.arena = new FrameArena(m.arena, arena.width, arena.height);
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`session thread exited (${code})`)));
  }

  /** Starts a thread and creates its sessions there; rejects with ORT's message if it cannot. */
  static start(init: SessionThreadInit): Promise<SessionThread> {
    const arena = FrameArena.create(init.inputWidth, init.inputHeight, init.arenaFrames);
    const worker = new Worker(THREAD_FILE, { workerData: init, transferList: [init.model] });
    return new Promise((resolve, reject) => {
      const onMessage = (m: SessionThreadReply) => {
        if (m.type === 'ready') {
          worker.off('message', onMessage);
          worker.unref(); // an idle session thread must not keep the process alive
          resolve(new SessionThread(worker, arena, m.warmedSessions));
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

  /** Runs in flight or waiting for this thread. */
  get busy(): boolean {
    return this.queued > 0;
  }

  /**
   * Gives the thread an arena of `frames` slots, between runs (once the host fit has chosen the batch
   * size): every run transfers the whole arena twice, and V8 counts each arrival as a new allocation
   * until a collection, so a larger arena than runs need means more collections on the event loop.
   */
  resizeArena(frames: number): void {
    if (this.busy) throw new Error('resizeArena: a run is in flight');
    this.arena = FrameArena.create(this.arena.width, this.arena.height, frames);
  }

  run(frames: readonly RunFrame[]): Promise<SessionRunResult> {
    if (frames.length > this.arena.capacity)
      return Promise.reject(new Error(`${frames.length} frames exceed the arena's ${this.arena.capacity}`));
    this.queued++;
    const result = this.tail.then(() => this.send(frames));
    this.tail = result.catch(() => undefined);
    return result.finally(() => this.queued--);
  }

  private async send(frames: readonly RunFrame[]): Promise<SessionRunResult> {
    const t0 = performance.now();
    frames.forEach((f, i) => this.arena.write(i, f.pixels, f.geometry));
    const writeMs = performance.now() - t0;
    const id = ++this.seq;
    this.worker.ref(); // pending work keeps the process alive
    const result = await new Promise<SessionRunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const buffer = this.arena.buffer;
      this.worker.postMessage(
        { type: 'run', id, arena: buffer, geometries: frames.map((f) => f.geometry) } satisfies SessionRunRequest,
        [buffer],
      );
    });
    // Host time making the input: the padded write here and any conversion in the thread.
    return { ...result, inputMs: result.inputMs + writeMs };
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.ref(); // keep the process alive until the sessions are released
      this.worker.once('exit', () => resolve());
      this.worker.on('message', (m: SessionThreadReply) => {
        if (m.type === 'closed') void this.worker.terminate();
      });
      this.worker.postMessage({ type: 'close' });
      setTimeout(() => void this.worker.terminate(), 2000).unref();
    });
    return this.closing;
  }
}
