/**
 * What the events service asks of workers: keep the frames of these cameras (the ones with rules)
 * this long, within these bounds. Published to every frames Redis; workers only read it.
 */
export interface FrameWindowPolicy {
  cameras: string[];
  windowMs: number;
  cameraBytes: number;
  totalBytes: number;
}

/** A policy read back from Redis, or undefined when it is missing or not one. */
export function parsePolicy(raw: string | null): FrameWindowPolicy | undefined {
  if (!raw) return undefined;
  try {
    const p = JSON.parse(raw) as Partial<FrameWindowPolicy>;
    const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
    if (!Array.isArray(p.cameras) || !p.cameras.every((c) => typeof c === 'string')) return undefined;
    if (!positive(p.windowMs) || !positive(p.cameraBytes) || !positive(p.totalBytes)) return undefined;
    return { cameras: p.cameras, windowMs: p.windowMs, cameraBytes: p.cameraBytes, totalBytes: p.totalBytes };
  } catch {
    return undefined;
  }
}
