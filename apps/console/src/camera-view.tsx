import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, callApi, type Camera, type LiveTracks, type Rule } from './api';
import { EventsPanel } from './events-panel';
import { draftOf, insertVertex, ruleBody, type Draft, type Point } from './geometry';
import { Overlay } from './overlay';
import { RuleEditor } from './rule-editor';
import { useSnapshot } from './snapshot';
import { can, SCOPES, type Session } from './session';

interface ModelsAnswer {
  default: string;
  models: { name: string; classes?: string[] }[];
}

/** The model's class list for a camera: its own model, else the site's default (edge `GET /v1/models`). */
async function classesOf(token: string, camera: string): Promise<string[]> {
  const [cam, models] = await Promise.all([
    callApi<Camera>(token, 'GET', `/v1/cameras/${encodeURIComponent(camera)}`).catch(() => undefined),
    callApi<ModelsAnswer>(token, 'GET', '/v1/models'),
  ]);
  const name = cam?.model ?? models.default;
  return models.models.find((m) => m.name === name)?.classes ?? [];
}

export function CameraView({ session, camera }: { session: Session; camera: string }) {
  const picture = useSnapshot(session.token, camera);
  const [size, setSize] = useState<{ w: number; h: number } | undefined>();
  const [rules, setRules] = useState<Rule[]>([]);
  const [classes, setClasses] = useState<string[]>([]);
  const [draft, setDraft] = useState<Draft | undefined>();
  const [selected, setSelected] = useState<number | undefined>();
  const [failure, setFailure] = useState<ApiFailure | undefined>();
  const [saving, setSaving] = useState(false);
  const [loadError, setLoadError] = useState<string | undefined>();
  const tracks = useLiveTracks();
  const readsEvents = can(session, SCOPES.eventsRead);
  const writes = readsEvents && can(session, SCOPES.eventsWrite);
  const rulesPath = `/v1/events/cameras/${encodeURIComponent(camera)}/rules`;

  const loadRules = () =>
    callApi<{ rules: Rule[] }>(session.token, 'GET', rulesPath).then(
      (r) => (setRules(r.rules), setLoadError(undefined)),
      (err: Error) => setLoadError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : err.message),
    );
  useEffect(() => {
    if (readsEvents) void loadRules();
    if (writes) void classesOf(session.token, camera).then(setClasses, () => setClasses([]));
  }, [session.token, camera]);

  const edit = (next: Draft | undefined) => {
    setDraft(next);
    setSelected(undefined);
    setFailure(undefined);
  };
  const deleteVertex = () => {
    if (!draft || selected === undefined) return;
    setDraft({ ...draft, points: draft.points.filter((_, i) => i !== selected) });
    setSelected(undefined);
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).tagName === 'INPUT') return;
      if (e.key === 'Delete' || e.key === 'Backspace') deleteVertex();
      if (e.key === 'Escape') setSelected(undefined);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });
  const save = async () => {
    if (!draft) return;
    setSaving(true);
    try {
      await callApi(session.token, 'PUT', `${rulesPath}/${encodeURIComponent(draft.id)}`, ruleBody(draft));
      edit(undefined);
      await loadRules();
    } catch (err) {
      setFailure(err instanceof ApiFailure ? err : new ApiFailure(0, 'E_NETWORK', (err as Error).message, undefined));
    } finally {
      setSaving(false);
    }
  };
  const remove = async (rule: Rule) => {
    try {
      await callApi(session.token, 'DELETE', `${rulesPath}/${encodeURIComponent(rule.id)}`);
      await loadRules();
    } catch (err) {
      setLoadError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : (err as Error).message);
    }
  };
  const addPoint = (p: Point) => {
    if (!draft || (draft.type === 'line' && draft.points.length >= 2)) return;
    setDraft({ ...draft, points: [...draft.points, p] });
  };
  const newId = (type: string) => `${type}-${rules.length + 1}`;

  return (
    <section class="view" id="camera-view" data-camera={camera}>
      <div class="picture">
        {picture ? (
          <img
            id="picture"
            src={picture}
            alt={camera}
            onLoad={(e) => {
              const img = e.target as HTMLImageElement;
              setSize({ w: img.naturalWidth, h: img.naturalHeight });
            }}
          />
        ) : (
          <div class="no-picture muted">waiting for a frame…</div>
        )}
        {picture && size && (
          <Overlay
            rules={rules}
            size={size}
            draft={draft}
            selected={selected}
            drawing={writes && draft !== undefined && (draft.type === 'zone' || draft.points.length < 2)}
            onAdd={addPoint}
            onMove={(i, p) => draft && setDraft({ ...draft, points: draft.points.map((q, j) => (j === i ? p : q)) })}
            onSelect={setSelected}
            onInsert={(after) => {
              if (!draft) return;
              setDraft({ ...draft, points: insertVertex(draft.points, after) });
              setSelected(after + 1);
            }}
            tracks={tracks.shown}
          />
        )}
      </div>
      <div>
        {loadError && <p class="error">{loadError}</p>}
        {!readsEvents && <p>This token lacks {SCOPES.eventsRead}: rules and events are not shown.</p>}
        {readsEvents && (
          <div class="panel" id="rules">
            <h3>Rules</h3>
            <table>
              <tbody>
                {rules.map((r) => (
                  <tr key={r.id} data-rule={r.id}>
                    <td>{r.id}</td>
                    <td>{r.type}</td>
                    <td>{r.classes?.join(', ') ?? 'every class'}</td>
                    <td>
                      {r.source === 'file' ? (
                        <span class="muted read-only">site file (read-only)</span>
                      ) : (
                        writes && (
                          <>
                            <button class="edit-rule" onClick={() => edit(draftOf(r, size))}>
                              Edit
                            </button>{' '}
                            <button class="delete-rule" onClick={() => void remove(r)}>
                              Delete
                            </button>
                          </>
                        )
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {writes && !draft && (
              <p>
                <button
                  id="new-line"
                  onClick={() => edit({ id: newId('line'), type: 'line', points: [], classes: [] })}
                >
                  New line
                </button>{' '}
                <button
                  id="new-zone"
                  onClick={() => edit({ id: newId('zone'), type: 'zone', points: [], classes: [] })}
                >
                  New zone
                </button>
              </p>
            )}
          </div>
        )}
        {writes && draft && (
          <RuleEditor
            draft={draft}
            classes={classes}
            failure={failure}
            saving={saving}
            selected={selected}
            onChange={setDraft}
            onDeleteVertex={deleteVertex}
            onSave={() => void save()}
            onCancel={() => edit(undefined)}
          />
        )}
        {readsEvents && <EventsPanel session={session} camera={camera} rules={rules} onTracks={tracks.update} />}
      </div>
    </section>
  );
}

/** Tracks older than this are no longer drawn: the camera stopped, or nothing is confirmed any more. */
const TRACKS_STALE_MS = 2000;

/** The newest frame's confirmed tracks from the feed, cleared once they go stale. */
function useLiveTracks(): { shown: LiveTracks | undefined; update(t: LiveTracks): void } {
  const [shown, setShown] = useState<LiveTracks | undefined>();
  useEffect(() => {
    if (!shown) return;
    const timer = setTimeout(() => setShown(undefined), TRACKS_STALE_MS);
    return () => clearTimeout(timer);
  }, [shown]);
  return { shown, update: setShown };
}
