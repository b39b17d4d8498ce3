import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

/** One stored object: its key, size and when it was last written (epoch ms). */
export interface StoredObject {
  key: string;
  bytes: number;
  modifiedMs: number;
}

/**
 * Where snapshots live: a filesystem volume here; an S3-compatible store implements the same four
 * calls (keys are `/`-separated object names).
 */
export interface SnapshotStore {
  /** Writes the whole object or nothing: a reader never sees half a picture. */
  put(key: string, body: Buffer): Promise<void>;
  /** The object, or undefined when there is none; one larger than `maxBytes` is refused. */
  get(key: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Removes the object; one already gone is no error. */
  delete(key: string): Promise<void>;
  /** Every object, in no particular order. */
  list(): Promise<StoredObject[]>;
}

const KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Refuses keys that could leave the store's folder (`..`, absolute paths, odd characters). */
export function checkKey(key: string): string {
  if (!KEY.test(key) || key.split('/').some((part) => part === '..' || part === '.'))
    throw new Error(`snapshot key ${JSON.stringify(key)} is not a store key`);
  return key;
}

/** Snapshots as files under one folder, written to a temporary name and renamed into place. */
export class FsSnapshotStore implements SnapshotStore {
  constructor(private readonly dir: string) {}

  async put(key: string, body: Buffer): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, body);
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, maxBytes: number): Promise<Buffer | undefined> {
    let file;
    try {
      file = await open(this.path(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { size } = await file.stat();
      if (size > maxBytes) throw new Error(`snapshot ${key} is ${size} bytes, above ${maxBytes}`);
      return await file.readFile();
    } finally {
      await file.close();
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async list(): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    const walk = async (folder: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        const key = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(join(folder, entry.name), key);
        else if (entry.isFile() && !entry.name.endsWith('.tmp')) {
          const info = await stat(join(folder, entry.name)).catch(() => undefined);
          if (info) found.push({ key, bytes: info.size, modifiedMs: info.mtimeMs });
        }
      }
    };
    await walk(this.dir, '');
    return found;
  }

  private path(key: string): string {
    return join(this.dir, ...checkKey(key).split('/'))
      .split('/')
      .join(sep);
  }
}
