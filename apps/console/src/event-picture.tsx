import { useEffect, useState } from 'preact/hooks';
import { mediaUrl, type SiteEvent } from './api';
import { EventClip } from './event-clip';

/** How often a picture still being written is asked for again, and how many times. */
const PENDING_RETRY_MS = 1000;
const PENDING_TRIES = 10;

interface Shown {
  frame?: string;
  crop?: string;
  state: string;
}

/** The frame an event was computed from and the crop of its box, as the events service stored them. */
export function EventPicture({ token, event, onClose }: { token: string; event: SiteEvent; onClose: () => void }) {
  const [shown, setShown] = useState<Shown>({ state: 'loading' });
  useEffect(() => {
    const urls: string[] = [];
    let cancelled = false;
    const load = async () => {
      for (let tries = 0; tries < PENDING_TRIES && !cancelled; tries++) {
        const [frame, crop] = await Promise.all([
          mediaUrl(token, event.snapshot!),
          mediaUrl(token, `${event.snapshot!}?crop=true`),
        ]);
        for (const answer of [frame, crop]) if ('url' in answer) urls.push(answer.url);
        if ('url' in frame && 'url' in crop) {
          if (!cancelled) setShown({ frame: frame.url, crop: crop.url, state: 'shown' });
          return;
        }
        const failure = 'failure' in frame ? frame.failure : 'failure' in crop ? crop.failure : undefined;
        if (failure) return void (cancelled || setShown({ state: failure }));
        if (!cancelled) setShown({ state: 'being written' });
        await new Promise((r) => setTimeout(r, PENDING_RETRY_MS));
      }
    };
    void load().catch((err: Error) => cancelled || setShown({ state: err.message }));
    return () => {
      cancelled = true;
      for (const url of urls) URL.revokeObjectURL(url);
    };
  }, [token, event.id]);
  return (
    <figure id="event-picture" data-event={event.id} data-state={shown.state}>
      <figcaption>
        {event.kind} · {event.rule} · {new Date(event.ts).toLocaleTimeString()}{' '}
        <button type="button" id="close-picture" onClick={onClose}>
          close
        </button>
      </figcaption>
      {shown.frame && shown.crop ? (
        <div class="pictures">
          <img id="event-frame" src={shown.frame} alt={`the frame of ${event.kind}`} />
          <img id="event-crop" src={shown.crop} alt={`the box of track ${event.track ?? ''}`} />
        </div>
      ) : (
        <p class="muted">{shown.state}</p>
      )}
      <EventClip token={token} event={event} />
    </figure>
  );
}
