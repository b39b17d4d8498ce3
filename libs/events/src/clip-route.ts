import type { EventsConfig } from '@vision/config';
import { HttpError, type RouteContext } from '@vision/http';
import { isEventId, MAX_RECORD_BYTES, snapshotKeys, type SnapshotRecord, type SnapshotStore } from '@vision/evidence';
import { buildClip, ClipError } from '@vision/recording';
import type { EventsAuth } from './events-auth';

/** Clips remuxed at once: each is an ffmpeg child reading the recording; more are answered 429. */
const MAX_CLIPS_AT_ONCE = 2;

export interface ClipDeps {
  auth: EventsAuth;
  /** Where the event records are (the snapshot store): they say which camera and when. */
  snapshots?: SnapshotStore;
  clip: EventsConfig['clip'];
}

/**
 * `GET /v1/events/{id}/clip`: the recording of the event's camera from `EVENTS_CLIP_BEFORE_SECONDS`
 * before its capture time to `EVENTS_CLIP_AFTER_SECONDS` after, as an MP4 remuxed without
 * re-encoding. The camera must be recorded by a gateway (`record: true`) into the folder this
 * service sees as `EVENTS_RECORD_DIR`.
 */
export function clipRoute(deps: ClipDeps): (ctx: RouteContext) => Promise<void> {
  let running = 0;
  return async ({ params, principal, res }) => {
    const id = params['id'];
    const { dir, beforeSeconds, afterSeconds, maxBytes, timeoutMs, ffmpegPath } = deps.clip;
    if (!dir || !deps.snapshots)
      throw new HttpError('E_NOT_FOUND', 'clips are off on this site (EVENTS_RECORD_DIR or EVENTS_SNAPSHOT_DIR unset)');
    if (!isEventId(id)) throw new HttpError('E_NOT_FOUND', `no event ${id}`, { field: 'id' });
    const raw = await deps.snapshots.get(snapshotKeys(id).record, MAX_RECORD_BYTES);
    if (!raw) throw new HttpError('E_NOT_FOUND', `no track event ${id} (unknown, or deleted by retention)`);
    const event = JSON.parse(raw.toString()) as SnapshotRecord;
    if (!deps.auth.cameraAllowed(principal, event.camera))
      throw new HttpError('E_FORBIDDEN', `the token does not cover camera ${event.camera}`);
    if (running >= MAX_CLIPS_AT_ONCE)
      throw new HttpError('E_OVERLOADED', `${MAX_CLIPS_AT_ONCE} clips are being made; ask again shortly`, {
        headers: { 'retry-after': '1' },
      });
    running++;
    let clip;
    try {
      clip = await buildClip({
        dir,
        camera: event.camera,
        fromMs: event.ts - beforeSeconds * 1000,
        toMs: event.ts + afterSeconds * 1000,
        maxBytes,
        ffmpegPath,
        timeoutMs,
      });
    } catch (err) {
      if (err instanceof ClipError) throw new HttpError('E_CLIP_UNAVAILABLE', `no clip of event ${id}: ${err.message}`);
      throw err;
    } finally {
      running--;
    }
    if (clip.status === 'pending')
      throw new HttpError('E_CLIP_PENDING', `camera ${event.camera} is recorded up to ${clip.recordedUntilMs}`, {
        headers: { 'retry-after': String(Math.ceil(clip.retryAfterMs / 1000)) },
      });
    if (clip.status === 'gone')
      throw new HttpError('E_CLIP_UNAVAILABLE', `no recording of camera ${event.camera} around event ${id}`);
    res.writeHead(200, {
      'content-type': 'video/mp4',
      'content-length': clip.mp4.length,
      'x-vision-camera': event.camera,
      'x-vision-clip-from': String(clip.fromMs),
      'x-vision-clip-to': String(clip.toMs),
      'x-vision-clip-partial': String(clip.partial),
    });
    res.end(clip.mp4);
  };
}
