import { readdirSync, readFileSync } from 'node:fs';
import type { ServiceProcess } from '@vision/testing';
import { sleep } from '@vision/testing';

/** What GET /v1/cameras/:id answers (the fields the tests read). */
export interface CameraView {
  id: string;
  url: string;
  source: string;
  state: 'connecting' | 'streaming' | 'backoff' | 'stopped';
  mode: string | null;
  stopReason: string | null;
  paused: boolean;
  error: { code: string; message: string; at: number } | null;
  pid: number | null;
  retryInMs: number | null;
  attempt: number;
  edge: { state: string; lastError: { code: string } | null };
  stats: {
    framesIn: number;
    sent: number;
    skipped: number;
    results: number;
    errors: number;
    reconnects: number;
    lastFrameId: number | null;
    resultsPerSecond: number;
  };
  lastResult: {
    frameId: number;
    captureTs: number;
    detections: { xmin: number; ymin: number; xmax: number; ymax: number; name: string }[];
  } | null;
}

/** A client of one gateway's HTTP API. */
export function gatewayApi(gw: ServiceProcess, token?: string) {
  const base = `http://127.0.0.1:${gw.port}`;
  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown; text: string }> => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text };
  };
  return {
    call,
    camera: async (id: string) => (await call('GET', `/v1/cameras/${id}`)).json as CameraView,
    cameras: async () => ((await call('GET', '/v1/cameras')).json as { cameras: CameraView[] }).cameras,
  };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** Whether a process exists (a zombie counts as gone: it has exited and only awaits its parent). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line contains `marker` (what `pgrep -f` does). */
export function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker) && alive(Number(d));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The union of a result's boxes of one class: where the moving square was found. */
export function unionBox(
  detections: { xmin: number; ymin: number; xmax: number; ymax: number; name: string }[],
  name: string,
) {
  const d = detections.filter((x) => x.name === name);
  if (!d.length) return undefined;
  return {
    xmin: Math.min(...d.map((x) => x.xmin)),
    ymin: Math.min(...d.map((x) => x.ymin)),
    xmax: Math.max(...d.map((x) => x.xmax)),
    ymax: Math.max(...d.map((x) => x.ymax)),
  };
}
