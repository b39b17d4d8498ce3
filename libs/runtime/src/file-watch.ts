import { readFile, stat } from 'node:fs/promises';

/**
 * File times come from a coarse clock: a write finished within this long after a read may keep the
 * mtime the read saw, so a file changed that recently is read again rather than trusted by its stat.
 */
const COARSE_CLOCK_MS = 2000;

/**
 * One file's content as last looked at. A look reads the file only when its inode, size or mtime
 * moved, or its mtime is recent enough that a later write could hide behind it; the content then
 * decides whether it changed. A file that is gone reads as undefined.
 */
export class FileContent {
  private signature: string | undefined;
  private readAt = 0;
  private current: string | undefined;

  /** `known`: the content the caller already read, so the first look reports only a change from it. */
  constructor(
    readonly path: string,
    known?: string,
  ) {
    this.current = known;
  }

  /** The content at the last look (undefined: no file). */
  get content(): string | undefined {
    return this.current;
  }

  /** Whether the content differs from the last look's; errors other than a missing file are thrown. */
  async look(): Promise<boolean> {
    const found = await stat(this.path).catch(missingAsUndefined);
    const signature = found ? `${found.ino}:${found.size}:${found.mtimeMs}` : 'missing';
    const recent = found !== undefined && this.readAt - found.mtimeMs < COARSE_CLOCK_MS;
    if (signature === this.signature && !recent) return false;
    this.signature = signature;
    this.readAt = Date.now();
    const content = found ? await readFile(this.path, 'utf8').catch(missingAsUndefined) : undefined;
    if (content === this.current) return false;
    this.current = content;
    return true;
  }
}

export interface FileWatchOptions {
  /** How often the file is looked at. */
  pollMs: number;
  /** A change is reported once the content has stayed the same this long (a writer's bursts count once). */
  settleMs: number;
}

/**
 * Calls `onChange` with a file's new content (undefined: the file is gone) each time it changes,
 * polling: it survives editors that replace the file by a rename, symlink swaps (a Kubernetes
 * ConfigMap) and file systems without change notifications. Returns the function that stops it.
 */
export function watchFile(
  file: FileContent,
  options: FileWatchOptions,
  onChange: (content: string | undefined) => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** When the newest unreported change was seen. */
  let changedAt: number | undefined;
  const tick = async () => {
    try {
      if (await file.look()) changedAt = Date.now();
    } catch {
      // An unreadable file (permissions, a directory) is no change; the next look tries again.
    }
    if (stopped) return;
    const settledIn = changedAt === undefined ? undefined : changedAt + options.settleMs - Date.now();
    if (settledIn !== undefined && settledIn <= 0) {
      changedAt = undefined;
      onChange(file.content);
    }
    timer = setTimeout(
      tick,
      settledIn !== undefined && settledIn > 0 ? Math.min(settledIn, options.pollMs) : options.pollMs,
    );
    timer.unref();
  };
  timer = setTimeout(tick, options.pollMs);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function missingAsUndefined(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
