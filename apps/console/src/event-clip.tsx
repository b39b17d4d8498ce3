import { useEffect, useState } from 'preact/hooks';
import { mediaUrl, type SiteEvent } from './api';

/** How long the console keeps asking for a clip whose recording has not reached its end yet. */
const PENDING_PATIENCE_MS = 30_000;

/**
 * An event's clip (`GET /v1/events/{id}/clip`: the camera's recording around the event, for cameras
 * a gateway records), fetched with the token when asked for and played from a `blob:` URL.
 */
export function EventClip({ token, event }: { token: string; event: SiteEvent }) {
  const [asked, setAsked] = useState(false);
  const [state, setState] = useState('');
  const [url, setUrl] = useState<string | undefined>();
  useEffect(() => {
    if (!asked) return;
    let cancelled = false;
    let made: string | undefined;
    const load = async () => {
      const giveUp = Date.now() + PENDING_PATIENCE_MS;
      while (!cancelled) {
        const answer = await mediaUrl(token, `/v1/events/${event.id}/clip`);
        if ('url' in answer) {
          made = answer.url;
          if (!cancelled) setUrl(answer.url);
          return;
        }
        if ('failure' in answer) return void (cancelled || setState(answer.failure));
        if (Date.now() > giveUp) return void (cancelled || setState('the recording has not caught up; try later'));
        if (!cancelled) setState('being recorded');
        await new Promise((r) => setTimeout(r, answer.retryAfterMs));
      }
    };
    void load().catch((err: Error) => cancelled || setState(err.message));
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [asked, token, event.id]);
  if (!asked)
    return (
      <button type="button" id="play-clip" onClick={() => setAsked(true)}>
        clip
      </button>
    );
  return url ? (
    <video id="event-clip" src={url} controls autoPlay muted />
  ) : (
    <p class="muted" id="clip-state">
      {state || 'loading the clip'}
    </p>
  );
}
