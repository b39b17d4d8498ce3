import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Recordings on disk: `<dir>/<camera folder>/<start>.ts`, one MPEG-TS segment per file, named by the
 * Unix time (whole seconds) at which ffmpeg opened it (the segment muxer's `-strftime 1` with `%s`).
 * MPEG-TS needs no index written at the end, so a segment cut short by a kill is still readable.
 */

/** A segment's name: its start in whole Unix seconds (up to 13 digits), `.ts`. */
const SEGMENT_NAME = /^(\d{1,13})\.ts$/;

/** One recorded segment. */
export interface Segment {
  /** When ffmpeg opened it (Unix ms, to the second: the name has whole seconds). */
  startMs: number;
  /**
   * When its last byte was written (its mtime): the next segment's start for a closed one, and
   * about now for the one being written.
   */
  endMs: number;
  path: string;
  bytes: number;
}

/**
 * The folder name of a camera's segments: the id with every character outside `A-Z a-z 0-9 _ - .`
 * and a leading `.` written as `%XX` (UTF-8 bytes), so no id reaches outside the recording folder
 * (`..`, `/`) and two ids never share a folder (`%` itself is escaped).
 */
export function cameraFolder(camera: string): string {
  if (!camera) throw new RangeError('a camera id is needed');
  const escaped = [...Buffer.from(camera, 'utf8')]
    .map((b, i) => {
      const c = String.fromCharCode(b);
      const plain = /[A-Za-z0-9_-]/.test(c) || (c === '.' && i > 0);
      return plain ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return escaped;
}

/** Where a camera's segments are: `<dir>/<cameraFolder(camera)>`. */
export function cameraDir(dir: string, camera: string): string {
  return join(dir, cameraFolder(camera));
}

/**
 * The segment muxer's output name for a camera (used with `-strftime 1`): `%s` is the Unix time at
 * which each segment is opened.
 */
export function segmentTemplate(dir: string, camera: string): string {
  return join(cameraDir(dir, camera), '%s.ts');
}

/** A camera's segments, oldest first; none when its folder does not exist. */
export async function listSegments(dir: string, camera: string): Promise<Segment[]> {
  return listFolder(cameraDir(dir, camera));
}

/** A segment as its name gives it: where it is and when it started. */
export type SegmentName = Pick<Segment, 'startMs' | 'path'>;

/**
 * The segments of one camera folder by name alone (no `stat`: a day of 2 s segments is 43 200
 * files), oldest first; files that are not segments are ignored, a missing folder has none.
 */
export async function segmentNames(folder: string): Promise<SegmentName[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((name) => ({ m: SEGMENT_NAME.exec(name), name }))
    .filter((x): x is { m: RegExpExecArray; name: string } => x.m !== null)
    .map(({ m, name }) => ({ startMs: Number(m[1]) * 1000, path: join(folder, name) }))
    .sort((a, b) => a.startMs - b.startMs);
}

/** Adds the size and end time of named segments; one deleted meanwhile (the sweep) is left out. */
export async function withStats(names: SegmentName[]): Promise<Segment[]> {
  const found = await Promise.all(
    names.map(async (s) => {
      const st = await stat(s.path).catch(() => undefined);
      return st?.isFile() ? { ...s, endMs: Math.max(s.startMs, st.mtimeMs), bytes: st.size } : undefined;
    }),
  );
  return found.filter((s): s is Segment => s !== undefined);
}

/** The segments in one camera folder, oldest first, each with its size and end. */
export async function listFolder(folder: string): Promise<Segment[]> {
  return withStats(await segmentNames(folder));
}
