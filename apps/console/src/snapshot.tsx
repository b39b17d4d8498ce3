import { useRef, useState } from 'preact/hooks';
import { snapshotUrl } from './api';
import { usePoll } from './use-poll';

/** A camera's picture is its newest snapshot, refreshed about once a second. */
const REFRESH_MS = 1000;

/** The newest frame of `camera`, kept fresh; each replaced frame's object URL is revoked. */
export function useSnapshot(token: string, camera: string): string | undefined {
  const [url, setUrl] = useState<string | undefined>();
  const current = useRef<string | undefined>(undefined);
  usePoll(
    async () => {
      const next = await snapshotUrl(token, camera);
      if (!next) return;
      const previous = current.current;
      current.current = next;
      setUrl(next);
      if (previous) setTimeout(() => URL.revokeObjectURL(previous), REFRESH_MS);
    },
    REFRESH_MS,
    [token, camera],
  );
  return url;
}
