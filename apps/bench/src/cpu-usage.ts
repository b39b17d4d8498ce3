import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where unavailable. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of those.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Snapshots CPU seconds of named processes; `since` returns each one's share of one core over the interval. */
export class CpuMeter {
  private readonly start: Record<string, number>;
  private readonly t0 = performance.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  }

  /** Core-fractions since construction, e.g. { worker: 1.62, edge: 0.2 } on a 2-core machine. */
  since(): Record<string, number> {
    const wall = (performance.now() - this.t0) / 1000;
    return Object.fromEntries(
      Object.entries(this.pids).map(([k, pid]) => [k, (cpuSeconds(pid) - this.start[k]) / wall]),
    );
  }
}

/**
 * What a process's threads are for, by their Linux names: the event loop is the thread whose id is
 * the pid; session threads name themselves `ort-…` and ONNX Runtime's pool threads inherit the name
 * (`ort-wide` runs lone frames, the others are the engines); sharp decodes on `libvips worker`
 * threads; the rest are libuv's pool (sharp's calls into libvips, file and Redis TLS work) and
 * V8's helpers.
 */
export const THREAD_KINDS = ['event loop', 'engines', 'wide session', 'decode (libvips)', 'libuv pool and V8'] as const;
export type ThreadKind = (typeof THREAD_KINDS)[number];

function threadKind(pid: number, tid: number, name: string): ThreadKind {
  if (tid === pid) return 'event loop';
  if (name === 'ort-wide') return 'wide session';
  if (name.startsWith('ort-')) return 'engines';
  if (name.startsWith('libvips')) return 'decode (libvips)';
  return 'libuv pool and V8';
}

/** CPU seconds so far of each of `pid`'s threads that are alive, with their kind. */
function threadSeconds(pid: number): Map<number, { kind: ThreadKind; seconds: number }> {
  const out = new Map<number, { kind: ThreadKind; seconds: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
      out.set(Number(t), { kind: threadKind(pid, Number(t), name), seconds });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * Where one process's CPU goes, by thread kind: `since` gives each kind's share of one core over the
 * interval (threads that ended in it count up to their last snapshot; those born in it from zero).
 */
export class ThreadMeter {
  private readonly start: Map<number, { kind: ThreadKind; seconds: number }>;
  private readonly t0 = performance.now();

  constructor(private readonly pid: number) {
    this.start = threadSeconds(pid);
  }

  since(): Record<ThreadKind, number> {
    const wall = (performance.now() - this.t0) / 1000;
    const cores = Object.fromEntries(THREAD_KINDS.map((k) => [k, 0])) as Record<ThreadKind, number>;
    for (const [tid, now] of threadSeconds(this.pid))
      cores[now.kind] += (now.seconds - (this.start.get(tid)?.seconds ?? 0)) / wall;
    return cores;
  }
}
