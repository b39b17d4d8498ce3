import { useEffect, useMemo, useState } from 'preact/hooks';
import { callApi, type LiveTracks, type Rule, type SiteEvent } from './api';
import { EventPicture } from './event-picture';
import { eventsCsv, followFeed } from './events-feed';
import type { Session } from './session';

/** Events the timeline keeps in memory (and exports): the newest ones. */
const MAX_EVENTS = 1000;

function countsText(counts: unknown): string {
  const c = counts as { total?: number; in?: number; out?: number } | undefined;
  if (!c) return '0';
  if (c.total !== undefined) return `${c.total} inside`;
  return `in ${c.in ?? 0} · out ${c.out ?? 0}`;
}

interface PanelProps {
  session: Session;
  camera: string;
  rules: Rule[];
  /** Each frame's confirmed tracks from the same feed, for the picture. */
  onTracks?(tracks: LiveTracks): void;
}

/** One end of the time range: local time to the second. */
function TimeField(p: { id: string; label: string; value: string; onChange(value: string): void }) {
  return (
    <label>
      {p.label}{' '}
      <input
        id={p.id}
        type="datetime-local"
        step="1"
        value={p.value}
        onInput={(e) => p.onChange((e.target as HTMLInputElement).value)}
      />
    </label>
  );
}

/** A datetime-local field's value as epoch ms (local time), or undefined when empty. */
const timeOf = (text: string) => (text ? new Date(text).getTime() : undefined);

export function EventsPanel({ session, camera, rules, onTracks }: PanelProps) {
  const [events, setEvents] = useState<SiteEvent[]>([]);
  const [counts, setCounts] = useState<Record<string, unknown>>({});
  const [state, setState] = useState('connecting');
  const [rule, setRule] = useState('');
  const [kind, setKind] = useState('');
  const [picture, setPicture] = useState<SiteEvent | undefined>();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  useEffect(() => {
    const seen = new Set<string>();
    const add = (list: SiteEvent[]) =>
      setEvents((old) =>
        [...list.filter((e) => !seen.has(e.id) && seen.add(e.id)), ...old]
          .sort((a, b) => b.ts - a.ts)
          .slice(0, MAX_EVENTS),
      );
    const stop = followFeed(session.token, camera, {
      onCounts: setCounts,
      onState: setState,
      ...(onTracks ? { onTracks } : {}),
      onEvent: (e) => {
        if (e.kind === 'count') setCounts((old) => ({ ...old, [e.rule]: e.counts }));
        add([e]);
      },
    });
    void callApi<{ events: SiteEvent[] }>(
      session.token,
      'GET',
      `/v1/events/recent?camera=${encodeURIComponent(camera)}&limit=500`,
    ).then(
      (r) => add(r.events),
      () => undefined,
    );
    return stop;
  }, [session.token, camera]);
  const shown = useMemo(() => {
    const [after, before] = [timeOf(from), timeOf(to)];
    return events.filter(
      (e) =>
        (!rule || e.rule === rule) &&
        (!kind || e.kind === kind) &&
        e.kind !== 'count' &&
        (after === undefined || e.ts >= after) &&
        (before === undefined || e.ts <= before),
    );
  }, [events, rule, kind, from, to]);
  const csvUrl = useMemo(() => URL.createObjectURL(new Blob([eventsCsv(shown)], { type: 'text/csv' })), [shown]);
  useEffect(() => () => URL.revokeObjectURL(csvUrl), [csvUrl]);
  return (
    <div class="panel" id="events">
      <h3>
        Events{' '}
        <span class="muted" id="feed-state">
          ({state})
        </span>
      </h3>
      <table id="counts">
        <tbody>
          {rules.map((r) => (
            <tr key={r.id} data-rule={r.id}>
              <td>{r.id}</td>
              <td class="count">{countsText(counts[r.id])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <select id="filter-rule" value={rule} onChange={(e) => setRule((e.target as HTMLSelectElement).value)}>
          <option value="">every rule</option>
          {rules.map((r) => (
            <option key={r.id} value={r.id}>
              {r.id}
            </option>
          ))}
        </select>{' '}
        <select id="filter-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
          <option value="">every kind</option>
          {['zone.enter', 'zone.exit', 'zone.dwell', 'line.cross'].map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>{' '}
        <TimeField id="filter-from" label="from" value={from} onChange={setFrom} />{' '}
        <TimeField id="filter-to" label="to" value={to} onChange={setTo} />{' '}
        <a id="export-csv" href={csvUrl} download={`${camera}-events.csv`}>
          Export CSV
        </a>
      </p>
      {picture && <EventPicture token={session.token} event={picture} onClose={() => setPicture(undefined)} />}
      <div class="timeline">
        <table id="timeline">
          <tbody>
            {shown.map((e) => (
              <tr key={e.id} data-kind={e.kind} data-rule={e.rule} data-ts={e.ts}>
                <td>{new Date(e.ts).toLocaleTimeString()}</td>
                <td>{e.kind}</td>
                <td>{e.rule}</td>
                <td>{e.track !== undefined ? `#${e.track}` : ''}</td>
                <td>{e.class ?? ''}</td>
                <td>{e.direction ?? ''}</td>
                <td>
                  {e.snapshot && (
                    <button type="button" class="picture" onClick={() => setPicture(e)}>
                      picture
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
