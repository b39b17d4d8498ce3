import { useState } from 'preact/hooks';
import { callApi, ApiFailure, type Camera } from './api';
import { useSnapshot } from './snapshot';
import { can, SCOPES, type Session } from './session';
import { usePoll } from './use-poll';

/** The wall's list of cameras and their states: as fresh as the pictures. */
const LIST_REFRESH_MS = 1000;

export function Wall({ session, onOpen }: { session: Session; onOpen(camera: string): void }) {
  const [cameras, setCameras] = useState<Camera[] | undefined>();
  const [error, setError] = useState<string | undefined>();
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
    [session.token],
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
      {cameras?.length === 0 && <p>No cameras yet.</p>}
      <div class="wall" id="wall">
        {cameras?.map((c) => (
          <Tile key={c.id} session={session} camera={c} onOpen={onOpen} />
        ))}
      </div>
    </section>
  );
}

function Tile({ session, camera, onOpen }: { session: Session; camera: Camera; onOpen(camera: string): void }) {
  const picture = useSnapshot(session.token, camera.id);
  const latency = camera.stats.latencyP50Ms;
  return (
    <div class="tile" data-camera={camera.id} onClick={() => onOpen(camera.id)}>
      {picture ? <img src={picture} alt={camera.id} /> : <div class="no-picture" />}
      <div class="facts">
        <strong>{camera.id}</strong>
        <span class={`state state-${camera.state}`}>{camera.paused ? 'paused' : camera.state}</span>
        <span class="fps">{camera.stats.resultsPerSecond} / {camera.fps} fps</span>
        <span class="latency">{latency === null ? '–' : `${latency} ms`}</span>
        {camera.error && (
          <span class="camera-error error" title={camera.error.message}>
            {camera.error.code}
          </span>
        )}
        {camera.edge.lastError && <span class="edge-error error">{camera.edge.lastError.code}</span>}
      </div>
    </div>
  );
}
