import { readFileSync } from 'node:fs';

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
