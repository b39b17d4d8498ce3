import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { TIMINGS } from '@vision/config';
import { FileContent, watchFile } from '@vision/runtime';
import { VisionError } from '@vision/wire';
import { formatCamerasFile, parseCamerasFile, type CameraEntry } from './camera-spec';

/** Largest cameras file read (10 000 cameras fit several times over). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** How long a writer waits for another's lock, and when a lock is presumed left by a dead process. */
const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a writer that died: it is taken over. */
const LOCK_STALE_MS = 15_000;
/** How often a waiting writer retries the lock. */
const LOCK_RETRY_MS = 25;

/**
 * The cameras file (JSON, `{ "cameras": [...] }`): read and validated as a whole, watched for
 * changes, and rewritten by the API's changes, so what the API did survives a restart. Writes go
 * to a temporary file renamed over the original (a reader never sees half a file) under a lock
 * file, so gateways sharing one file never lose each other's changes. A missing file is an empty
 * list; a read-only one (a ConfigMap) refuses API changes with `E_CAMERA_FILE`.
 */
export class CamerasFile {
  /** What the last read found, so the watcher reports changes from it (undefined: no file yet). */
  private lastText: string | undefined;

  constructor(readonly path: string) {}

  async read(): Promise<CameraEntry[]> {
    let text: string;
    try {
      const st = await stat(this.path);
      if (st.size > MAX_FILE_BYTES)
        throw new VisionError('E_CAMERA_INVALID', `the cameras file is over ${MAX_FILE_BYTES} bytes`);
      text = await readFile(this.path, 'utf8');
      this.lastText = text;
    } catch (err) {
      if (err instanceof VisionError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new VisionError(
        'E_CAMERA_FILE',
        `cannot read the cameras file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    return parseCamerasFile(text);
  }

  /** Reads, changes and rewrites the file under its lock; `change` may throw to refuse. */
  async update(change: (cameras: CameraEntry[]) => CameraEntry[]): Promise<void> {
    await this.locked(async () => {
      const next = change(await this.read());
      const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, formatCamerasFile(next), { mode: 0o600 });
        await rename(tmp, this.path);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw new VisionError(
          'E_CAMERA_FILE',
          `cannot write the cameras file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    });
  }

  /** Calls `onChange` when the file's content changes (polled; survives renames and symlink swaps). */
  watch(pollMs: number, onChange: () => void): () => void {
    return watchFile(new FileContent(this.path, this.lastText), { pollMs, settleMs: TIMINGS.fileSettleMs }, () =>
      onChange(),
    );
  }

  private async locked(fn: () => Promise<void>): Promise<void> {
    const lock = `${this.path}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const h = await open(lock, 'wx');
        await h.writeFile(String(process.pid)).finally(() => h.close());
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST')
          throw new VisionError('E_CAMERA_FILE', `cannot lock the cameras file: ${code ?? (err as Error).message}`);
        const st = await stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
          await unlink(lock).catch(() => undefined);
          continue;
        }
        if (Date.now() > deadline)
          throw new VisionError('E_CAMERA_FILE', `${lock} stayed locked for ${LOCK_WAIT_MS} ms`);
        await sleep(LOCK_RETRY_MS);
      }
    }
    try {
      await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }
}
