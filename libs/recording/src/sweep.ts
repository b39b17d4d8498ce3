import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentNames, withStats, type Segment } from './segments';

export interface SweepOptions {
  /** The recording folder (every camera's folder in it is swept). */
  dir: string;
  /** A segment whose last write is older than this is deleted. */
  retentionMs: number;
  /** Total bytes kept across every camera; beyond it the oldest segments go first. */
  maxBytes: number;
}

export interface SweepResult {
  /** What is left. */
  files: number;
  bytes: number;
  /** Deleted for their age and for the byte budget. */
  deleted: { retention: number; budget: number };
  deletedBytes: number;
  /** Segments that could not be deleted (each is tried again at the next sweep). */
  failures: number;
}

/**
 * The retention sweep: each pass deletes the segments past retention, then, while the total is
 * over the byte budget, the oldest segments of any camera. The newest segment of each camera is
 * never deleted for the budget (ffmpeg may be writing it), so a budget smaller than one segment a
 * camera is exceeded by that much. A closed segment never changes, so its size and end are looked
 * up once and remembered: a pass lists the folders and looks at new and newest segments only.
 */
export class RecordingSweeper {
  private known = new Map<string, Segment>();

  constructor(private readonly o: SweepOptions) {}

  async sweep(): Promise<SweepResult> {
    const o = this.o;
    const now = Date.now();
    const result: SweepResult = {
      files: 0,
      bytes: 0,
      deleted: { retention: 0, budget: 0 },
      deletedBytes: 0,
      failures: 0,
    };
    const folders = await readdir(o.dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    const seen = new Map<string, Segment>();
    const kept: Segment[] = [];
    const newest = new Set<string>();
    for (const folder of folders) {
      if (!folder.isDirectory()) continue;
      const names = await segmentNames(join(o.dir, folder.name));
      for (const [i, name] of names.entries()) {
        const open = i === names.length - 1;
        const s = (!open && this.known.get(name.path)) || (await withStats([name]))[0];
        if (!s) continue;
        if (open) newest.add(s.path);
        else seen.set(s.path, s);
        if (now - s.endMs > o.retentionMs && (await remove(s, result))) result.deleted.retention++;
        else kept.push(s);
      }
    }
    let total = kept.reduce((n, s) => n + s.bytes, 0);
    const left: Segment[] = [];
    for (const s of kept.sort((a, b) => a.startMs - b.startMs)) {
      if (total > o.maxBytes && !newest.has(s.path) && (await remove(s, result))) {
        result.deleted.budget++;
        total -= s.bytes;
      } else left.push(s);
    }
    this.known = new Map(left.filter((s) => seen.has(s.path)).map((s) => [s.path, s]));
    result.files = left.length;
    result.bytes = total;
    return result;
  }
}

/** One pass over `dir` with nothing remembered. */
export function sweepRecordings(o: SweepOptions): Promise<SweepResult> {
  return new RecordingSweeper(o).sweep();
}

/** Deletes one segment; false (and counted) when it could not be, true when it is gone. */
async function remove(s: Segment, result: SweepResult): Promise<boolean> {
  try {
    await unlink(s.path);
  } catch (err) {
    // Already gone (another sweep, an operator): it is not there, which is what was wanted.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      result.failures++;
      return false;
    }
  }
  result.deletedBytes += s.bytes;
  return true;
}
