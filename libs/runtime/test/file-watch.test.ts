import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileContent, watchFile } from '../src/file-watch';

const POLL_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('file watching', () => {
  let dir: string;
  let path: string;
  const stops: (() => void)[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-watch-'));
    path = join(dir, 'watched.json');
  });
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a watcher and records what it reports. */
  const watching = (file: FileContent, settleMs = 0) => {
    const seen: (string | undefined)[] = [];
    stops.push(watchFile(file, { pollMs: POLL_MS, settleMs }, (content) => seen.push(content)));
    return seen;
  };
  const until = async (what: string, check: () => boolean, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  };

  it('reports a content change once, and nothing while the file stays the same', async () => {
    writeFileSync(path, 'one');
    const seen = watching(new FileContent(path, 'one'));
    await sleep(POLL_MS * 4);
    expect(seen).toEqual([]);
    writeFileSync(path, 'two');
    await until('the change', () => seen.length > 0);
    await sleep(POLL_MS * 4);
    expect(seen).toEqual(['two']);
  });

  it('sees a rewrite that keeps size and mtime while that mtime is recent (a coarse file clock)', async () => {
    writeFileSync(path, 'aaaa');
    const file = new FileContent(path);
    expect(await file.look()).toBe(true);
    // As a write within the same clock tick leaves it: `touch -r` copies the times to the nanosecond.
    const stamp = join(dir, 'stamp');
    execFileSync('touch', ['-r', path, stamp]);
    const before = statSync(path, { bigint: true }).mtimeNs;
    writeFileSync(path, 'bbbb');
    execFileSync('touch', ['-r', stamp, path]);
    expect(statSync(path, { bigint: true }).mtimeNs).toBe(before);
    expect(await file.look()).toBe(true);
    expect(file.content).toBe('bbbb');
    // An old mtime is trusted: an unchanged stat is not read again.
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(await file.look()).toBe(false);
    writeFileSync(path, 'cccc');
    utimesSync(path, old, old);
    expect(await file.look()).toBe(false);
    expect(file.content).toBe('bbbb');
  });

  it('follows a file replaced by a rename (an editor, an atomic write) and a symlink swap', async () => {
    writeFileSync(path, 'first');
    const seen = watching(new FileContent(path, 'first'));
    writeFileSync(`${path}.tmp`, 'second');
    renameSync(`${path}.tmp`, path);
    await until('the renamed file', () => seen.length === 1);
    expect(seen).toEqual(['second']);

    const link = join(dir, 'linked.json');
    writeFileSync(join(dir, 'a'), 'version a');
    writeFileSync(join(dir, 'b'), 'version b');
    symlinkSync(join(dir, 'a'), link);
    const linked = watching(new FileContent(link, 'version a'));
    symlinkSync(join(dir, 'b'), `${link}.new`);
    renameSync(`${link}.new`, link);
    await until('the swapped link', () => linked.length === 1);
    expect(linked).toEqual(['version b']);
  });

  it('reports a file that goes and comes back, and throws no error for it', async () => {
    writeFileSync(path, 'here');
    const seen = watching(new FileContent(path, 'here'));
    unlinkSync(path);
    await until('the removal', () => seen.length === 1);
    writeFileSync(path, 'back');
    await until('the return', () => seen.length === 2);
    expect(seen).toEqual([undefined, 'back']);
  });

  it('waits for a burst of writes to settle and reports its end once', async () => {
    writeFileSync(path, '0');
    const settleMs = POLL_MS * 6;
    const seen = watching(new FileContent(path, '0'), settleMs);
    for (let i = 1; i <= 5; i++) {
      writeFileSync(path, `${i}`.repeat(i));
      await sleep(POLL_MS * 2);
    }
    const burstEnd = Date.now();
    expect(seen).toEqual([]);
    await until('the settled file', () => seen.length > 0);
    expect(Date.now() - burstEnd).toBeGreaterThanOrEqual(settleMs - POLL_MS * 2);
    await sleep(settleMs * 2);
    expect(seen).toEqual(['55555']);
  });

  it('stops looking once stopped', async () => {
    writeFileSync(path, 'one');
    const seen: (string | undefined)[] = [];
    const stop = watchFile(new FileContent(path, 'one'), { pollMs: POLL_MS, settleMs: 0 }, (c) => seen.push(c));
    stop();
    writeFileSync(path, 'two');
    await sleep(POLL_MS * 5);
    expect(seen).toEqual([]);
  });
});
