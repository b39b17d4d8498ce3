import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Cores a cgroup's CPU quota allows, from `cpu.max` (v2: "max 100000" or "<quota> <period>") or
 * v1's quota and period in microseconds; undefined where there is no quota.
 */
export function quotaCores(cpuMax: string | undefined, v1?: { quotaUs: string; periodUs: string }): number | undefined {
  const [quota, period] = cpuMax !== undefined ? cpuMax.trim().split(/\s+/) : [v1?.quotaUs.trim(), v1?.periodUs.trim()];
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

let cached: number | undefined;

/**
 * The cores this process may use: the CPUs it may run on, and no more than its container's CPU
 * quota (Node 20's `availableParallelism` does not read the quota, so a container limited to 2 CPUs
 * on a 16-core host would otherwise size 16 threads).
 */
export function cpuCores(): number {
  if (cached !== undefined) return cached;
  const v1Quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
  const v1Period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us');
  const quota = quotaCores(
    read('/sys/fs/cgroup/cpu.max'),
    v1Quota !== undefined && v1Period !== undefined ? { quotaUs: v1Quota, periodUs: v1Period } : undefined,
  );
  cached = Math.min(availableParallelism(), quota ?? Infinity);
  return cached;
}
