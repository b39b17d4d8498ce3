import type { Logger } from 'pino';
import type { GatewayConfig } from '@vision/config';
import type { CameraGauges, GatewayMetrics } from '@vision/metrics';
import { VisionError } from '@vision/wire';
import { assignedGateway } from './assignment';
import { CameraRunner } from './camera-runner';
import { CAMERA_STATES } from './camera-state';
import { parseCameraEntry, resolveCamera, type CameraEntry } from './camera-spec';
import type { CameraView } from './camera-view';
import type { CamerasFile } from './cameras-file';
import type { EdgeLinkFactory } from './edge-link';

export interface ManagerOptions {
  config: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
  edge: EdgeLinkFactory;
  /** Unset: cameras live in memory only (API changes are lost on restart). */
  file: CamerasFile | undefined;
}

interface Slot {
  entry: CameraEntry;
  /** The resolved spec as text: a camera restarts only when this changes. */
  key: string;
  runner: CameraRunner;
}

export interface ApplyResult {
  added: string[];
  updated: string[];
  removed: string[];
}

/**
 * The cameras this gateway serves. Every change (a file reload, an API call) runs one at a time and
 * touches only the cameras it names: the others keep their child, their socket and their frames.
 */
export class CameraManager {
  private readonly slots = new Map<string, Slot>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: ManagerOptions) {
    o.metrics.observeCameras(CAMERA_STATES, () => this.gauges());
  }

  get size(): number {
    return this.slots.size;
  }

  /** Makes the running set the cameras of `entries` assigned to this gateway. */
  apply(entries: CameraEntry[], why: string): Promise<ApplyResult> {
    return this.serial(() => this.applyNow(entries, why));
  }

  /**
   * Re-reads the cameras file and applies it. An invalid file changes nothing (the running cameras
   * stay): it is logged with its code and rejects with it (`E_CAMERA_INVALID`, `E_CAMERA_FILE`,
   * `E_CAMERA_LIMIT`). Undefined: there is no cameras file.
   */
  reload(why: string): Promise<ApplyResult | undefined> {
    const file = this.o.file;
    if (!file) {
      this.o.log.info({ why }, 'no CAMERAS_FILE to reload');
      return Promise.resolve(undefined);
    }
    return this.serial(async () => {
      try {
        return await this.applyNow(await file.read(), why);
      } catch (err) {
        const e = err as VisionError;
        this.o.log.error({ why, code: e.code, err: e.message }, 'cameras file not applied; the running cameras stay');
        throw err;
      }
    });
  }

  list(): CameraView[] {
    return [...this.slots.values()].map((s) => s.runner.view()).sort((a, b) => a.id.localeCompare(b.id));
  }

  runner(id: string): CameraRunner {
    const slot = this.slots.get(id);
    if (!slot) throw new VisionError('E_CAMERA_NOT_FOUND', `no camera ${id} on this gateway`);
    return slot.runner;
  }

  add(body: unknown): Promise<CameraView> {
    const entry = parseCameraEntry(body);
    return this.serial(async () => {
      this.checkAssigned(entry);
      this.checkRecordable(entry, '');
      if (this.slots.has(entry.id)) throw new VisionError('E_CAMERA_EXISTS', `camera ${entry.id} exists`);
      if (this.slots.size >= this.o.config.maxCameras)
        throw new VisionError('E_CAMERA_LIMIT', `this gateway serves ${this.slots.size} cameras (GATEWAY_MAX_CAMERAS)`);
      await this.o.file?.update((cameras) => {
        if (cameras.some((c) => c.id === entry.id))
          throw new VisionError('E_CAMERA_EXISTS', `camera ${entry.id} is in the cameras file`);
        return [...cameras, entry];
      });
      return this.startSlot(entry, false).runner.view();
    });
  }

  /**
   * Changes some fields of a camera (`null` resets a field to its default); it restarts only if its
   * resolved settings changed.
   */
  update(id: string, patch: unknown): Promise<CameraView> {
    return this.serial(async () => {
      const slot = this.slots.get(id);
      if (!slot) throw new VisionError('E_CAMERA_NOT_FOUND', `no camera ${id} on this gateway`);
      if (!patch || typeof patch !== 'object' || Array.isArray(patch))
        throw new VisionError('E_CAMERA_INVALID', '(body): must be a JSON object');
      const merged: Record<string, unknown> = { ...slot.entry, ...patch };
      for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
      if (merged['id'] !== id)
        throw new VisionError('E_CAMERA_INVALID', 'id: a camera id cannot change (remove it and add it again)');
      const entry = parseCameraEntry(merged);
      this.checkAssigned(entry);
      this.checkRecordable(entry, '');
      await this.o.file?.update((cameras) =>
        cameras.some((c) => c.id === id) ? cameras.map((c) => (c.id === id ? entry : c)) : [...cameras, entry],
      );
      if (this.keyOf(entry) === slot.key) {
        slot.entry = entry;
        return slot.runner.view();
      }
      await this.restart(slot, entry);
      return this.slots.get(id)!.runner.view();
    });
  }

  remove(id: string): Promise<void> {
    return this.serial(async () => {
      const slot = this.slots.get(id);
      if (!slot) throw new VisionError('E_CAMERA_NOT_FOUND', `no camera ${id} on this gateway`);
      await this.o.file?.update((cameras) => cameras.filter((c) => c.id !== id));
      await slot.runner.stop();
      this.slots.delete(id);
      this.o.log.info({ camera: id, why: 'api' }, 'camera removed');
    });
  }

  /** Pausing is a runtime switch: it is not written to the file (set `enabled` for that). */
  pause(id: string): Promise<CameraView> {
    return this.serial(async () => {
      const r = this.runner(id);
      r.pause();
      this.o.log.info({ camera: id }, 'camera paused');
      return r.view();
    });
  }

  resume(id: string): Promise<CameraView> {
    return this.serial(async () => {
      const r = this.runner(id);
      r.resume();
      this.o.log.info({ camera: id }, 'camera resumed');
      return r.view();
    });
  }

  /** Stops every camera and waits until every child has exited. */
  stop(): Promise<void> {
    return this.serial(async () => {
      this.closed = true;
      const slots = [...this.slots.values()];
      this.slots.clear();
      await Promise.all(slots.map((s) => s.runner.stop()));
    });
  }

  private async applyNow(entries: CameraEntry[], why: string): Promise<ApplyResult> {
    const { index, count, maxCameras } = this.o.config;
    entries.forEach((e, i) => {
      if (e.gateway !== undefined && e.gateway >= count)
        throw new VisionError('E_CAMERA_INVALID', `cameras[${i}].gateway: must be below GATEWAY_COUNT (${count})`);
    });
    const mine = entries.filter((e) => assignedGateway(e, count) === index);
    entries.forEach((e, i) => {
      if (mine.includes(e)) this.checkRecordable(e, `cameras[${i}].`);
    });
    if (mine.length > maxCameras)
      throw new VisionError(
        'E_CAMERA_LIMIT',
        `the cameras file assigns ${mine.length} cameras to gateway ${index}; GATEWAY_MAX_CAMERAS is ${maxCameras}`,
      );
    const wanted = new Map(mine.map((e) => [e.id, e]));
    const result: ApplyResult = { added: [], updated: [], removed: [] };
    const gone = [...this.slots.values()].filter((s) => !wanted.has(s.entry.id));
    result.removed = gone.map((s) => s.entry.id);
    // A removed camera leaves the list only once its child is reaped, as DELETE answers only then.
    const work: Promise<void>[] = gone.map(async (s) => {
      await s.runner.stop();
      this.slots.delete(s.entry.id);
    });
    for (const entry of mine) {
      const slot = this.slots.get(entry.id);
      if (!slot) {
        this.startSlot(entry, false);
        result.added.push(entry.id);
      } else if (this.keyOf(entry) !== slot.key) {
        work.push(this.restart(slot, entry));
        result.updated.push(entry.id);
      } else {
        slot.entry = entry;
      }
    }
    await Promise.all(work);
    if (result.added.length + result.updated.length + result.removed.length)
      this.o.log.info({ why, ...result, cameras: this.slots.size }, 'cameras applied');
    return result;
  }

  private async restart(slot: Slot, entry: CameraEntry): Promise<void> {
    const paused = slot.runner.isPaused;
    await slot.runner.stop();
    if (!this.closed) this.startSlot(entry, paused);
  }

  private startSlot(entry: CameraEntry, paused: boolean): Slot {
    const spec = resolveCamera(entry, this.o.config.camera);
    const runner = new CameraRunner(
      spec,
      { config: this.o.config, log: this.o.log, metrics: this.o.metrics, edge: this.o.edge },
      { paused },
    );
    const slot = { entry, key: this.keyOf(entry), runner };
    this.slots.set(entry.id, slot);
    runner.start();
    return slot;
  }

  private keyOf(entry: CameraEntry): string {
    return JSON.stringify(resolveCamera(entry, this.o.config.camera));
  }

  private checkAssigned(entry: CameraEntry): void {
    const { index, count } = this.o.config;
    const owner = assignedGateway(entry, count);
    if (owner >= count) throw new VisionError('E_CAMERA_INVALID', `gateway: must be below GATEWAY_COUNT (${count})`);
    if (owner !== index)
      throw new VisionError('E_CAMERA_NOT_ASSIGNED', `camera ${entry.id} belongs to gateway ${owner}, not ${index}`);
  }

  /** A camera with `record: true` needs somewhere to record (the refusal names the setting). */
  private checkRecordable(entry: CameraEntry, where: string): void {
    if (entry.record === true && !this.o.config.record.dir)
      throw new VisionError('E_CAMERA_INVALID', `${where}record: needs GATEWAY_RECORD_DIR on this gateway`);
  }

  private gauges(): CameraGauges[] {
    return [...this.slots.values()].map((s) => ({
      id: s.entry.id,
      state: s.runner.state,
      lastFrameAt: s.runner.lastFrameAt,
    }));
  }

  /** Runs changes one at a time, in order; a failed one does not block the next. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
