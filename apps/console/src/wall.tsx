import { useRef, useState } from 'preact/hooks';
import { callApi, ApiFailure, type Camera } from './api';
import { CameraForm } from './camera-form';
import { useSnapshot } from './snapshot';
import { can, SCOPES, type Session } from './session';
import { usePoll } from './use-poll';

/** The wall's list of cameras and their states: as fresh as the pictures. */
const LIST_REFRESH_MS = 1000;

export function Wall({ session, onOpen }: { session: Session; onOpen(camera: string): void }) {
  const [cameras, setCameras] = useState<Camera[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Camera | undefined>();
  const [refresh, setRefresh] = useState(0);
  const writes = can(session, SCOPES.camerasWrite);
  const change = async (method: string, path: string) => {
    try {
      await callApi(session.token, method, path);
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : (err as Error).message);
    }
    setRefresh((n) => n + 1);
  };
  usePoll(
    async () => {
      try {
        const res = await callApi<{ cameras: Camera[] }>(session.token, 'GET', '/v1/cameras');
        setCameras(res.cameras);
        setError(undefined);
      } catch (err) {
        setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : (err as Error).message);
      }
    },
    LIST_REFRESH_MS,
    [session.token, refresh],
  );
  if (!can(session, SCOPES.camerasRead))
    return <p id="wall-forbidden">This token lacks {SCOPES.camerasRead}: the wall is not available.</p>;
  return (
    <section>
      {error && (
        <p id="wall-error" class="error">
          {error}
        </p>
      )}
      {writes && (
        <p>
          <button id="show-add-camera" onClick={() => setAdding(!adding)}>
            {adding ? 'Close' : 'Add a camera'}
          </button>
        </p>
      )}
      {writes && adding && <CameraForm token={session.token} onDone={() => setRefresh((n) => n + 1)} />}
      {writes && editing && (
        <CameraForm
          key={editing.id}
          token={session.token}
          editing={editing}
          onDone={() => {
            setEditing(undefined);
            setRefresh((n) => n + 1);
          }}
        />
      )}
      {cameras?.length === 0 && <p>No cameras yet.</p>}
      <div class="wall" id="wall">
        {cameras?.map((c) => (
          <Tile
            key={c.id}
            session={session}
            camera={c}
            onOpen={onOpen}
            onChange={writes ? change : undefined}
            onEdit={writes ? setEditing : undefined}
          />
        ))}
      </div>
    </section>
  );
}

interface TileProps {
  session: Session;
  camera: Camera;
  onOpen(camera: string): void;
  /** With cameras:write: pause, resume and remove. */
  onChange: ((method: string, path: string) => Promise<void>) | undefined;
  /** With cameras:write: open the form that changes its settings. */
  onEdit: ((camera: Camera) => void) | undefined;
}

function Tile({ session, camera, onOpen, onChange, onEdit }: TileProps) {
  const path = `/v1/cameras/${encodeURIComponent(camera.id)}`;
  const act = (e: Event, method: string, suffix: string) => {
    e.stopPropagation();
    if (suffix === '' && !confirm(`Remove camera ${camera.id}? Its stream stops and it leaves the cameras file.`))
      return;
    void onChange?.(method, `${path}${suffix}`);
  };
  const tile = useRef<HTMLDivElement>(null);
  const picture = useSnapshot(session.token, camera.id, tile);
  const latency = camera.stats.latencyP50Ms;
  return (
    <div ref={tile} class="tile" data-camera={camera.id} onClick={() => onOpen(camera.id)}>
      {picture ? <img src={picture} alt={camera.id} /> : <div class="no-picture" />}
      <div class="facts">
        <strong>{camera.id}</strong>
        <span class={`state state-${camera.state}`}>{camera.paused ? 'paused' : camera.state}</span>
        <span class="fps">
          {camera.stats.resultsPerSecond} / {camera.fps} fps
        </span>
        <span class="latency">{latency === null ? '–' : `${latency} ms`}</span>
        {camera.error && (
          <span class="camera-error error" title={camera.error.message}>
            {camera.error.code}
          </span>
        )}
        {camera.edge.lastError && <span class="edge-error error">{camera.edge.lastError.code}</span>}
      </div>
      {onChange && (
        <div class="facts">
          {camera.paused ? (
            <button class="resume" onClick={(e) => act(e, 'POST', '/resume')}>
              Resume
            </button>
          ) : (
            <button class="pause" onClick={(e) => act(e, 'POST', '/pause')}>
              Pause
            </button>
          )}
          <button
            class="change"
            onClick={(e) => {
              e.stopPropagation();
              onEdit?.(camera);
            }}
          >
            Change
          </button>
          <button class="remove" onClick={(e) => act(e, 'DELETE', '')}>
            Remove
          </button>
        </div>
      )}
    </div>
  );
}
