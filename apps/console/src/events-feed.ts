import type { LiveTracks, SiteEvent } from './api';

type FeedMessage =
  | { type: 'hello' | 'rules'; cameras: { camera: string; counts: Record<string, unknown> }[] }
  | { type: 'event'; event: SiteEvent }
  | ({ type: 'tracks' } & LiveTracks);

export interface FeedHandlers {
  onCounts(counts: Record<string, unknown>): void;
  onEvent(event: SiteEvent): void;
  onState(state: 'connecting' | 'open' | 'closed'): void;
  /** Each frame's confirmed tracks (EVENTS_LIVE_TRACKS). */
  onTracks?(tracks: LiveTracks): void;
}

/** A reconnect after the feed closes waits this long: a restarting events service is not hammered. */
const RECONNECT_MS = 2000;

/**
 * `/ws/events` for one camera, on this origin. Browsers cannot set headers on a WebSocket, so the
 * token goes in the `bearer.` subprotocol (the server answers `events.v1`, never echoing it).
 */
export function followFeed(token: string, camera: string, on: FeedHandlers): () => void {
  let socket: WebSocket | undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = () => {
    on.onState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/ws/events?cameras=${encodeURIComponent(camera)}`, [
      'events.v1',
      `bearer.${token}`,
    ]);
    socket.onopen = () => on.onState('open');
    socket.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as FeedMessage;
      if (msg.type === 'hello' || msg.type === 'rules')
        on.onCounts(msg.cameras.find((c) => c.camera === camera)?.counts ?? {});
      else if (msg.type === 'event' && msg.event.camera === camera) on.onEvent(msg.event);
      else if (msg.type === 'tracks' && msg.camera === camera) on.onTracks?.(msg);
    };
    socket.onclose = () => {
      on.onState('closed');
      if (!stopped) timer = setTimeout(connect, RECONNECT_MS);
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}

const CSV_COLUMNS = ['ts', 'time', 'camera', 'rule', 'ruleType', 'kind', 'track', 'class', 'direction', 'id'] as const;

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV of events, one row each, oldest first. */
export function eventsCsv(events: SiteEvent[]): string {
  const rows = [...events]
    .sort((a, b) => a.ts - b.ts)
    .map((e) => CSV_COLUMNS.map((c) => csvCell(c === 'time' ? new Date(e.ts).toISOString() : e[c])).join(','));
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}
