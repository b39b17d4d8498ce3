import { HttpError, type RouteContext } from '@vision/http';
import { isEventId, MAX_RECORD_BYTES, snapshotKeys, type SnapshotRecord, type SnapshotStore } from '@vision/evidence';
import type { EventsAuth } from './events-auth';

/** A pending snapshot older than this is given up on: its writer died or its disk is full. */
const PENDING_PATIENCE_MS = 30_000;
/** A stored picture is at most a frame's JPEG; anything larger in the store is not ours. */
const MAX_PICTURE_BYTES = 64 * 1024 * 1024;

/**
 * `GET /v1/events/{id}/snapshot[?crop=true]`: the JPEG of the frame an event was computed from, or
 * of its box. The event's camera must be in the token's `streams`.
 */
export async function snapshotRoute(
  deps: { snapshots?: SnapshotStore; auth: EventsAuth },
  { params, url, principal, res }: RouteContext,
): Promise<void> {
  const id = params['id'];
  const store = deps.snapshots;
  if (!store) throw new HttpError('E_NOT_FOUND', 'snapshots are off on this site (EVENTS_SNAPSHOT_DIR is unset)');
  if (!isEventId(id)) throw new HttpError('E_NOT_FOUND', `no event ${id}`, { field: 'id' });
  const keys = snapshotKeys(id);
  const raw = await store.get(keys.record, MAX_RECORD_BYTES);
  if (!raw)
    throw new HttpError(
      'E_NOT_FOUND',
      `no snapshot of event ${id} (unknown, deleted by retention, or never written: a full store)`,
    );
  const record = JSON.parse(raw.toString()) as SnapshotRecord;
  if (!deps.auth.cameraAllowed(principal, record.camera))
    throw new HttpError('E_FORBIDDEN', `the token does not cover camera ${record.camera}`);
  if (record.state === 'pending' && Date.now() - record.committedAt < PENDING_PATIENCE_MS)
    throw new HttpError('E_SNAPSHOT_PENDING', `the snapshot of event ${id} is being written`, {
      headers: { 'retry-after': '1' },
    });
  if (record.state !== 'stored')
    throw new HttpError(
      'E_SNAPSHOT_UNAVAILABLE',
      `no snapshot of event ${id}: ${record.reason ?? 'its writer stopped'}`,
    );
  const crop = url.searchParams.get('crop') === 'true';
  const picture = await store.get(crop ? keys.crop : keys.full, MAX_PICTURE_BYTES);
  if (!picture) throw new HttpError('E_NOT_FOUND', `no snapshot of event ${id} (deleted by retention)`);
  res.writeHead(200, {
    'content-type': 'image/jpeg',
    'content-length': picture.length,
    // The picture of an event never changes.
    'cache-control': 'private, max-age=86400, immutable',
    'x-vision-camera': record.camera,
    'x-vision-frame': String(record.frame),
    'x-vision-capture-ts': String(record.ts),
  });
  res.end(picture);
}
