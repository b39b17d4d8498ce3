/** An API's refusal, as every service of the site answers it: `{ error: { code, message, field? } }`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | undefined,
  ) {
    super(message);
  }
}

/** Same-origin calls (nginx routes each API under this origin) with the operator's bearer token. */
export async function callApi<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    cache: 'no-store',
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    throw new ApiFailure(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? (text.slice(0, 200) || res.statusText),
      error?.field,
    );
  }
  return json as T;
}

/** The newest frame of a camera as an object URL (an <img> cannot send the token itself); the caller revokes it. */
export async function snapshotUrl(token: string, camera: string): Promise<string | undefined> {
  const answer = await mediaUrl(token, `/v1/cameras/${encodeURIComponent(camera)}/snapshot`);
  return 'url' in answer ? answer.url : undefined;
}

/** What became of asking for an event's picture or clip. */
export type MediaAnswer = { url: string } | { pending: true; retryAfterMs: number } | { failure: string };

/** The codes that mean "being made: ask again", with the answer's `Retry-After`. */
const PENDING_CODES = new Set(['E_SNAPSHOT_PENDING', 'E_CLIP_PENDING']);

/**
 * A picture or video of the APIs fetched with the token, as an object URL: a camera's snapshot, an
 * event's (`path` as the event carries it, `?crop=true` for its box) or its clip
 * (`/v1/events/{id}/clip`); `pending` while the site is still making it. The caller revokes the URL.
 */
export async function mediaUrl(token: string, path: string): Promise<MediaAnswer> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (res.ok) return { url: URL.createObjectURL(await res.blob()) };
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (PENDING_CODES.has(body?.error?.code ?? ''))
    return { pending: true, retryAfterMs: 1000 * (Number(res.headers.get('retry-after')) || 1) };
  return { failure: `${body?.error?.code ?? `HTTP_${res.status}`}: ${body?.error?.message ?? res.statusText}` };
}

/** The fields of a camera the console shows (docs/cameras.md, "A camera, as the API shows it"). */
export interface Camera {
  id: string;
  /** As the gateway shows it: credentials hidden. */
  url?: string;
  fps: number;
  model: string | null;
  state: 'connecting' | 'streaming' | 'backoff' | 'stopped';
  paused: boolean;
  stopReason: string | null;
  error: { code: string; message: string; at: number } | null;
  edge: { state: string; lastError: { code: string } | null };
  stats: { resultsPerSecond: number; latencyP50Ms: number | null; latencyP95Ms: number | null };
}

/** A rule as the events API lists it (defaults filled in, with its source). */
export interface Rule {
  id: string;
  type: 'zone' | 'line';
  units?: 'norm' | 'px';
  classes?: string[];
  from?: [number, number];
  to?: [number, number];
  polygon?: [number, number][];
  inertia?: number;
  dwellS?: number;
  source?: 'file' | 'api';
}

/** The confirmed tracks of one frame, as the feed sends them (`[id, class, x1, y1, x2, y2]` in pixels of w×h). */
export interface LiveTracks {
  camera: string;
  ts: number;
  w: number;
  h: number;
  tracks: [number, string, number, number, number, number][];
}

export interface SiteEvent {
  id: string;
  camera: string;
  rule: string;
  ruleType: string;
  kind: string;
  ts: number;
  track?: number;
  class?: string;
  direction?: string;
  counts?: unknown;
  /** Track events when snapshots are on: the API path of the frame's picture. */
  snapshot?: string;
}
